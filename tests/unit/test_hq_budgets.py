"""Store budgets for discretionary points: charged with the credit, warned at 80%, held or
refused at 100%, and purchase base points never blocked. (Concurrency: tests/integration/test_budget_pg.py.)"""
from datetime import timedelta

import pytest
from sqlalchemy import select

from mall.extensions import db
from mall.budgets import services as budgets
from mall.budgets.models import BudgetMonth, DiscretionaryGrant
from mall.hq.models import HqAlert
from mall.instore.models import Store
from mall.engagement.earning import earn_for_purchase
from mall.points.models import PointsAccount
from tests.factories import make_user


@pytest.fixture
def store(app):
    store = Store(code="S12", name="Store 12", region="Xuhui")
    db.session.add(store)
    db.session.flush()
    return store


@pytest.fixture
def hq_user(tiers, clock):
    return make_user(clock.now(), role="hq", login="boss@example.com")


def _grant(member, store, points, clock, key, kind="manual"):
    now = clock.now()
    return budgets.issue_discretionary(member.id, points, store_id=store.id, kind=kind, reason="manual_grant",
                                       source="hq-grant", key=key, expires_at=now + timedelta(days=365), now=now)


def _balance(member):
    return db.session.get(PointsAccount, member.id, populate_existing=True).balance


def test_a_grant_within_budget_is_credited_and_charged(tiers, clock, store, hq_user):
    member = make_user(clock.now())
    budgets.set_budget(store.id, 1000, "hold", alert_email=None, actor_id=hq_user.id, now=clock.now())
    grant = _grant(member, store, 300, clock, "g1")
    assert grant.status == "issued" and _balance(member) == 300
    month = db.session.scalar(select(BudgetMonth))
    assert (month.used_points, month.limit_points) == (300, 1000)
    assert _grant(member, store, 300, clock, "g1").id == grant.id  # a replay changes nothing
    assert _balance(member) == 300


def test_crossing_80_percent_writes_one_warning(tiers, clock, store, hq_user):
    member = make_user(clock.now())
    budgets.set_budget(store.id, 1000, "hold", alert_email=None, actor_id=hq_user.id, now=clock.now())
    _grant(member, store, 790, clock, "a")
    assert db.session.scalars(select(HqAlert)).all() == []
    _grant(member, store, 10, clock, "b")
    _grant(member, store, 10, clock, "c")
    alerts = db.session.scalars(select(HqAlert)).all()
    assert [(a.kind, a.facts["used"]) for a in alerts] == [("budget_80", 800)]


def test_at_100_percent_a_hold_store_holds_the_grant_for_hq(tiers, clock, store, hq_user):
    member = make_user(clock.now())
    budgets.set_budget(store.id, 500, "hold", alert_email=None, actor_id=hq_user.id, now=clock.now())
    _grant(member, store, 500, clock, "full")
    held = _grant(member, store, 50, clock, "over")
    assert held.status == "held" and _balance(member) == 500
    approved = budgets.decide_grant(held.id, approve=True, actor_id=hq_user.id, note="loyal customer", now=clock.now())
    assert approved.status == "approved" and _balance(member) == 550
    month = db.session.scalar(select(BudgetMonth))
    assert (month.used_points, month.over_points) == (500, 50)
    with pytest.raises(budgets.GrantAlreadyDecided):
        budgets.decide_grant(held.id, approve=False, actor_id=hq_user.id, note="x", now=clock.now())


def test_a_rejected_held_grant_credits_nothing(tiers, clock, store, hq_user):
    member = make_user(clock.now())
    budgets.set_budget(store.id, 100, "hold", alert_email=None, actor_id=hq_user.id, now=clock.now())
    held = _grant(member, store, 150, clock, "big")
    budgets.decide_grant(held.id, approve=False, actor_id=hq_user.id, note="not justified", now=clock.now())
    assert held.status == "rejected" and _balance(member) == 0


def test_at_100_percent_a_refuse_store_refuses_and_nothing_is_written(tiers, clock, store, hq_user):
    member = make_user(clock.now())
    budgets.set_budget(store.id, 100, "refuse", alert_email=None, actor_id=hq_user.id, now=clock.now())
    _grant(member, store, 100, clock, "full")
    with pytest.raises(budgets.BudgetRefused):
        _grant(member, store, 1, clock, "over")
    assert _balance(member) == 100
    assert db.session.scalar(select(DiscretionaryGrant).where(DiscretionaryGrant.idempotency_key == "over")) is None


def test_purchase_base_points_are_never_blocked_by_a_full_budget(tiers, clock, store, hq_user):
    member = make_user(clock.now())
    budgets.set_budget(store.id, 100, "refuse", alert_email=None, actor_id=hq_user.id, now=clock.now())
    _grant(member, store, 100, clock, "full")
    entry = earn_for_purchase(member.id, 20_000, minor_per_point=100, source="pos", key="r1", now=clock.now(),
                              store_id=store.id)
    assert entry.points == 200 and _balance(member) == 300


def test_a_new_month_starts_a_fresh_budget(tiers, clock, store, hq_user):
    member = make_user(clock.now())
    budgets.set_budget(store.id, 100, "refuse", alert_email=None, actor_id=hq_user.id, now=clock.now())
    _grant(member, store, 100, clock, "june")
    clock.advance(days=30)
    assert _grant(member, store, 100, clock, "july").status == "issued"


def test_a_store_without_budget_is_charged_to_the_default_budget(tiers, clock, store):
    # Issue 11: every store has a budget; one HQ has not set is MALL_STORE_DEFAULT_MONTHLY_POINTS.
    member = make_user(clock.now())
    assert _grant(member, store, 10_000, clock, "free").status == "issued"
    assert _balance(member) == 10_000
    assert db.session.scalar(select(BudgetMonth.used_points)) == 10_000


@pytest.mark.parametrize("language, expected", [
    ("en", ["for Lin Xiao (", "Store 12", "Adjustments by member services"]),
    ("zh-CN", ["发给 Lin Xiao（", "Store 12"])])
def test_hqs_queue_of_held_grants_says_whom_where_and_why_in_the_readers_language(
        tiers, clock, store, hq_user, client, auth, language, expected):
    member = make_user(clock.now(), login="lin@example.com", name="Lin Xiao")
    budgets.set_budget(store.id, 100, "hold", alert_email=None, actor_id=hq_user.id, now=clock.now())
    now = clock.now()
    held = budgets.issue_discretionary(member.id, 500, store_id=store.id, kind="manual", reason="adjustment",
                                       source="hq-grant", key="q1", expires_at=now + timedelta(days=365), now=now)
    db.session.commit()
    assert held.status == "held"
    auth.login("boss@example.com")
    page = client.get("/hq/grants", headers={"Accept-Language": language}).get_data(as_text=True)
    queue = page.split("review-list")[1]
    for text in expected:
        assert text in queue, text
    assert member.member_code in queue and ">adjustment<" not in queue
