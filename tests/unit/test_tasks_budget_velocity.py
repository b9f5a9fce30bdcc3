"""Where tasks meet HQ's controls: task points at a store whose budget is used up are held
for HQ's approval (or refused, per the store's setting) and the member is told; and the
earning velocity limits apply to earning the member starts (receipt QR, check-in, profile),
refusing with a clear message and writing nothing."""
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from mall import settings
from mall.engagement import tasks
from mall.engagement.models import Checkin
from mall.extensions import db
from mall.budgets import services as budgets
from mall.budgets.models import DiscretionaryGrant
from mall.risk.services import EarningTooFast
from mall.instore import purchases
from mall.instore.codes import receipt_token
from mall.instore.models import Purchase, Store
from mall.points.models import LedgerEntry
from mall.points.statement import account_balance
from tests.factories import PASSWORD, make_user
from tests.instore_world import make_world

EARN = dict(minor_per_point=100)
TIGHT = {"member": (2, 3600), "device": (100, 3600), "ip": (100, 3600)}


def _text(response) -> str:
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


# --- task points and the store's budget -----------------------------------------------------

@pytest.fixture
def store(tiers):
    store = Store(code="S12", name="Store 12", region="Xuhui")
    db.session.add(store)
    db.session.flush()
    return store


def _referral_at(store, setting, clock):
    """A referred pair whose first purchase is at `store`, whose budget (1 point) is used up."""
    boss = make_user(clock.now(), role="hq", login="boss@example.com")
    budgets.set_budget(store.id, 1, setting, alert_email=None, actor_id=boss.id, now=clock.now())
    referrer = make_user(clock.now(), login="referrer@example.com")
    newcomer = make_user(clock.now(), login="newcomer@example.com")
    tasks.claim_referral(newcomer.id, referrer.member_code, device_id="phone-B", now=clock.now())
    return boss, referrer, newcomer


def _task_points(member_id) -> int:
    return db.session.scalar(select(func.coalesce(func.sum(LedgerEntry.points), 0)).where(
        LedgerEntry.member_id == member_id, LedgerEntry.source == "task"))


def test_task_points_at_a_held_store_wait_for_hq_and_are_credited_once_on_approval(app, store, clock, client, auth):
    boss, referrer, newcomer = _referral_at(store, "hold", clock)
    grants = tasks.reward_referral(newcomer.id, clock.now(), store_id=store.id)
    assert [(g.held, g.granted, g.wanted) for g in grants] == [(True, 0, 200), (True, 0, 200)]
    assert "waiting for HQ's approval" in str(grants[0].notice)
    held = db.session.scalars(select(DiscretionaryGrant).order_by(DiscretionaryGrant.id)).all()
    assert [(g.member_id, g.status, g.points, g.kind, g.source) for g in held] == [
        (referrer.id, "held", 200, "task", "task"), (newcomer.id, "held", 200, "task", "task")]
    assert _task_points(referrer.id) == 0 and tasks.task_board(referrer.id, clock.now()).held_points == 200
    db.session.commit()

    auth.login("referrer@example.com")
    assert "200 task points are waiting for HQ's approval" in _text(client.get("/tasks"))

    hq = app.test_client()  # HQ approves from its queue, twice (a double submit)
    hq.post("/login", data={"identifier": "boss@example.com", "password": PASSWORD})
    assert "task:referral" in _text(hq.get("/hq/grants"))
    for _ in range(2):
        hq.post(f"/hq/grants/{held[0].id}/decide", data={"decision": "approve", "reason": "good referral"})
    db.session.expire_all()
    assert db.session.get(DiscretionaryGrant, held[0].id).status == "approved"
    with pytest.raises(budgets.GrantAlreadyDecided):
        budgets.decide_grant(held[0].id, approve=True, actor_id=boss.id, note="again", now=clock.now())
    db.session.rollback()
    # The same task finishing again finds the approved credit: nothing is credited twice.
    again = tasks.grant_task_points(referrer.id, 200, reason="referral", key=held[0].idempotency_key, now=clock.now(), store_id=store.id)
    assert again.replayed and again.granted == 200
    assert _task_points(referrer.id) == 200 and account_balance(referrer.id) == 200
    assert tasks.task_board(referrer.id, clock.now()).held_points == 0
    assert "waiting for HQ's approval" not in _text(client.get("/tasks"))
    assert _task_points(newcomer.id) == 0  # still held


def test_a_held_task_replayed_before_the_decision_holds_nothing_more(store, clock):
    _boss, referrer, _newcomer = _referral_at(store, "hold", clock)
    first = tasks.grant_task_points(referrer.id, 50, reason="referral", key="k-1", now=clock.now(), store_id=store.id)
    second = tasks.grant_task_points(referrer.id, 50, reason="referral", key="k-1", now=clock.now(), store_id=store.id)
    assert first.held and second.held and second.replayed
    assert db.session.scalar(select(func.count()).select_from(DiscretionaryGrant)) == 1


def test_task_points_at_a_refusing_store_are_not_credited_and_say_so(store, clock):
    _boss, referrer, newcomer = _referral_at(store, "refuse", clock)
    grants = tasks.reward_referral(newcomer.id, clock.now(), store_id=store.id)
    assert [(g.held, g.granted, g.capped) for g in grants] == [(False, 0, "budget"), (False, 0, "budget")]
    assert str(grants[0].notice) == ("The store's points budget is used up this month, "
                                     "so these points could not be given.")
    assert db.session.scalar(select(func.count()).select_from(DiscretionaryGrant)) == 0
    assert _task_points(referrer.id) == 0 and _task_points(newcomer.id) == 0


# --- earning velocity on member-started earning -----------------------------------------------

@pytest.fixture
def world(app, clock):
    return make_world(clock.now())


def _receipts(world, clock, n):
    made = [purchases.create_purchase(world.store_id, f"R-{2000 + i}", 10_000, now=clock.now(), code_hours=24,
                                      created_by_id=world.staff_id)[0] for i in range(n)]
    db.session.commit()
    return made


def _receipt_earns(member_id) -> int:
    return db.session.scalar(select(func.count()).select_from(LedgerEntry).where(
        LedgerEntry.member_id == member_id, LedgerEntry.reason == "purchase"))


def test_receipt_claims_past_the_velocity_limit_are_refused_and_credit_nothing(app, world, clock, client):
    app.config["MALL_RISK_VELOCITY"] = TIGHT
    settings.reload(app)
    receipts = _receipts(world, clock, 3)
    client.post("/login", data={"identifier": "member@example.com", "password": PASSWORD})
    for receipt in receipts[:2]:
        assert client.get(f"/r/{receipt_token(receipt.id)}").status_code == 200
    before = account_balance(world.member_id)
    refused = client.get(f"/r/{receipt_token(receipts[2].id)}")
    assert refused.status_code == 429
    assert "Too many points were earned here in a short time. Please try again later." in _text(refused)
    db.session.expire_all()
    assert account_balance(world.member_id) == before and _receipt_earns(world.member_id) == 2
    assert db.session.get(Purchase, receipts[2].id).member_id is None  # still claimable later

    clock.advance(hours=2)  # the next window: the same receipt now earns
    assert client.get(f"/r/{receipt_token(receipts[2].id)}").status_code == 200
    db.session.expire_all()
    assert _receipt_earns(world.member_id) == 3


def test_a_normal_member_is_not_affected_by_the_velocity_limits(world, clock):
    receipts = _receipts(world, clock, 3)  # default limits: a few receipts a day are fine
    for receipt in receipts:
        claim = purchases.claim_receipt(receipt_token(receipt.id), world.member_id, now=clock.now(),
                                        device="member-phone-01", ip="101.6.7.8", **EARN)
        assert not claim.again
    tasks.check_in(world.member_id, clock.now(), device="member-phone-01", ip="101.6.7.8")
    assert _receipt_earns(world.member_id) == 3


def test_check_ins_from_one_device_past_the_limit_are_refused_and_write_nothing(app, tiers, clock):
    app.config["MALL_RISK_VELOCITY"] = {"member": (100, 3600), "device": (2, 3600), "ip": (100, 3600)}
    settings.reload(app)
    farm = [make_user(clock.now()) for _ in range(3)]
    for member in farm[:2]:
        tasks.check_in(member.id, clock.now(), device="farm-phone-0001", ip=None)
    with pytest.raises(EarningTooFast):
        tasks.check_in(farm[2].id, clock.now(), device="farm-phone-0001", ip=None)
    assert db.session.scalar(select(func.count()).select_from(Checkin).where(Checkin.member_id == farm[2].id)) == 0
    assert account_balance(farm[2].id) == 0
    with pytest.raises(EarningTooFast):  # a profile save that would earn: not even the profile is saved
        tasks.update_profile(farm[2].id, birthday=None, city="Shanghai", favourite_category=None,
                             now=clock.now(), device="farm-phone-0001", ip=None)
    assert tasks.profile_of(farm[2].id).city is None


def test_the_check_in_card_says_why_when_earning_is_too_fast(app, tiers, clock, client, auth):
    app.config["MALL_RISK_VELOCITY"] = {"member": (0, 3600), "device": (100, 3600), "ip": (100, 3600)}
    settings.reload(app)
    make_user(clock.now(), login="tasker@example.com")
    db.session.commit()
    auth.login("tasker@example.com")
    refused = client.post("/tasks/check-in", headers={"HX-Request": "true"})
    assert refused.status_code == 429
    assert "Too many points were earned here in a short time. Please try again later." in _text(refused)
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Checkin)) == 0
