"""Discretionary points with limits (issue 11, item 5): a frozen member receives points by
no path, every store has a budget (its own or the default), and a store staff member's grant
over the per-grant or per-day cap waits for HQ's approval instead of being credited."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from mall import settings
from mall.budgets import services as budgets
from mall.budgets.models import DiscretionaryGrant
from mall.engagement import tasks
from mall.engagement.earning import earn_for_purchase
from mall.extensions import db
from mall.instore.errors import MemberFrozen
from mall.instore.models import Store, StoreStaff
from mall.points.models import LedgerEntry, PointsAccount
from mall.risk.services import freeze_member
from tests.factories import PASSWORD, make_user


@pytest.fixture
def store(app):
    store = Store(code="S21", name="Store 21", name_zh="Store 21", region="Minhang")
    db.session.add(store)
    db.session.flush()
    return store


@pytest.fixture
def people(tiers, clock, store):
    hq = make_user(clock.now(), role="hq", login="hq@example.com")
    staff = make_user(clock.now(), role="store_staff", login="staff@example.com")
    db.session.add(StoreStaff(user_id=staff.id, store_id=store.id))
    member = make_user(clock.now(), login="member@example.com")
    db.session.commit()
    return hq, staff, member


def _balance(member_id):
    account = db.session.get(PointsAccount, member_id, populate_existing=True)
    return account.balance if account else 0


def _entries(member_id):
    return db.session.scalar(select(func.count()).select_from(LedgerEntry).where(LedgerEntry.member_id == member_id))


def _staff_grant(store, staff, member, points, clock, key, app):
    s = settings.current()
    return budgets.manual_grant(store.id, member.member_code, points, "goodwill", key=key, actor_id=staff.id,
                                now=clock.now(), limits=s.grants, timezone=s.timezone)


# --- a frozen member receives nothing ------------------------------------------------------

def test_a_frozen_member_gets_no_manual_grant(people, store, clock):
    hq, _staff, member = people
    freeze_member(member.id, "chargeback fraud", actor_id=hq.id, now=clock.now())
    with pytest.raises(MemberFrozen):
        budgets.manual_grant(store.id, member.member_code, 100, "goodwill", key="k", actor_id=hq.id, now=clock.now())
    assert _entries(member.id) == 0


def test_staff_see_a_clear_refusal_when_granting_to_a_frozen_member(people, store, clock, client):
    hq, _staff, member = people
    freeze_member(member.id, "chargeback fraud", actor_id=hq.id, now=clock.now())
    db.session.commit()
    client.post("/login", data={"identifier": "staff@example.com", "password": PASSWORD})
    response = client.post("/hq/grants", data={"store_id": store.id, "member": member.member_code, "points": 50,
                                               "note": "goodwill", "key": "frozen-1"})
    assert response.status_code == 422
    assert "This account is frozen" in response.get_data(as_text=True)
    assert _entries(member.id) == 0


def test_a_held_grant_is_not_credited_to_a_member_frozen_since(people, store, clock):
    hq, staff, member = people
    held = _staff_grant(store, staff, member, 5000, clock, "big", None)
    assert held.status == "held"
    freeze_member(member.id, "chargeback fraud", actor_id=hq.id, now=clock.now())
    with pytest.raises(MemberFrozen):
        budgets.decide_grant(held.id, approve=True, actor_id=hq.id, note="ok", now=clock.now())
    assert _balance(member.id) == 0


def test_a_frozen_member_earns_no_task_points(people, clock):
    hq, _staff, member = people
    freeze_member(member.id, "chargeback fraud", actor_id=hq.id, now=clock.now())
    grant = tasks.grant_task_points(member.id, 200, reason="referral", key="referral:1", now=clock.now())
    assert (grant.granted, grant.capped) == (0, "frozen")
    assert _entries(member.id) == 0


def test_a_frozen_member_earns_no_purchase_points_by_any_caller(people, clock):
    hq, _staff, member = people
    freeze_member(member.id, "chargeback fraud", actor_id=hq.id, now=clock.now())
    with pytest.raises(MemberFrozen):
        earn_for_purchase(member.id, 10_000, minor_per_point=100, source="erp", key="p1", now=clock.now())
    assert _entries(member.id) == 0


# --- budgets and caps ----------------------------------------------------------------------

def test_a_store_without_its_own_budget_has_the_default_one(people, store, clock, app):
    hq, _staff, member = people
    default = settings.current().grants.store_monthly_points
    held = budgets.manual_grant(store.id, member.member_code, default + 1, "typo", key="huge", actor_id=hq.id,
                                now=clock.now())
    assert held.status == "held" and _balance(member.id) == 0
    assert budgets.manual_grant(store.id, member.member_code, 100, "goodwill", key="small", actor_id=hq.id,
                                now=clock.now()).status == "issued"
    assert _balance(member.id) == 100


def test_a_staff_grant_over_the_per_grant_cap_waits_for_hq(people, store, clock, app):
    _hq, staff, member = people
    cap = settings.current().grants.staff_grant_max
    held = _staff_grant(store, staff, member, cap + 1, clock, "over", app)
    assert held.status == "held" and _balance(member.id) == 0
    assert _staff_grant(store, staff, member, cap, clock, "at", app).status == "issued"
    assert _balance(member.id) == cap


def test_staff_grants_over_the_daily_cap_wait_for_hq_until_the_next_shop_day(people, store, clock, app):
    _hq, staff, member = people
    app.config.update(MALL_STAFF_GRANT_MAX_POINTS=500, MALL_STAFF_GRANT_DAILY_POINTS=1000)
    settings.reload(app)
    assert [_staff_grant(store, staff, member, 400, clock, f"d{i}", app).status for i in range(3)] \
        == ["issued", "issued", "held"]
    assert _balance(member.id) == 800
    clock.advance(hours=15)  # 09:00 UTC is 17:00 in Shanghai: 15 hours on is the next shop day
    assert _staff_grant(store, staff, member, 400, clock, "next-day", app).status == "issued"


def test_a_staff_grant_page_says_the_grant_waits_for_hq(people, store, clock, client):
    _hq, _staff, member = people
    client.post("/login", data={"identifier": "staff@example.com", "password": PASSWORD})
    response = client.post("/hq/grants", data={"store_id": store.id, "member": member.member_code,
                                               "points": 100_000, "note": "typo", "key": "k-100k"},
                           follow_redirects=True)
    assert "waits for HQ" in response.get_data(as_text=True)
    assert _balance(member.id) == 0
    assert db.session.scalar(select(DiscretionaryGrant.status)) == "held"
