"""Risk control: each rule triggers, a clean member is not flagged, and HQ's review decision
ends consistent in the ledger, the stock and the payment. Freezes show their reason."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from mall import settings
from mall.checkout import orders as order_service
from mall.checkout.models import Order, Payment
from mall.checkout.quotes import LineRequest
from mall.extensions import db
from mall.risk import services as risk
from mall.accounts.models import AuditEntry
from mall.risk.models import RiskReview
from mall.inventory.models import Reservation, StockLevel
from mall.audit import run_audit
from mall.points.models import LedgerEntry, PointsAccount
from tests.factories import PASSWORD, give_points, make_item, make_user

ARGS = dict(hold_minutes=10, card_payments=False, points_per_unit=100)
PUBLIC_IP = "101.6.7.8"  # a public address: loopback and private ones are not counted


@pytest.fixture
def hq(tiers, clock):
    return make_user(clock.now(), role="hq", login="hq@example.com")


def _old_member(clock, login=None, points=50_000):
    """A member who joined a year ago: not a new account."""
    member = make_user(clock.now() - timedelta(days=365), login=login)
    give_points(member.id, points, clock.now())
    return member


def _new_member(clock, login=None, points=50_000):
    member = make_user(clock.now(), login=login)
    give_points(member.id, points, clock.now())
    return member


def _place(member, item, clock, key="k", ip=None, device=None, plan=0):
    """Place an order as checkout does, screened as the web request would screen it."""
    return order_service.place_order(member.id, [LineRequest(item.id, item.plans[plan].id, 1)], key=key,
                                     now=clock.now(), **ARGS,
                                     screen=lambda order, now: risk.screen_order(order, now, ip=ip, device=device))


def _stock(item):
    db.session.expire_all()
    level = db.session.get(StockLevel, item.id)
    return level.received, level.reserved, level.sold


def _balance(member):
    db.session.expire_all()
    return db.session.get(PointsAccount, member.id).balance


# --- velocity ----------------------------------------------------------------------------

@pytest.mark.parametrize("dimension", ["member", "device", "ip"])
def test_earning_velocity_is_limited_per_member_device_and_address(app, hq, clock, dimension):
    app.config["MALL_RISK_VELOCITY"] = {"member": (3, 3600), "device": (3, 3600), "ip": (3, 3600)}
    settings.reload(app)
    members = [make_user(clock.now()) for _ in range(4)]
    for n in range(4):
        member = members[0] if dimension == "member" else members[n]
        kwargs = {"device": "dev-shared-1" if dimension == "device" else f"dev-{n}-abcdef",
                  "ip": PUBLIC_IP if dimension == "ip" else f"101.6.9.{n}"}
        if n < 3:
            risk.check_earn_velocity(member.id, now=clock.now(), **kwargs)
        else:
            with pytest.raises(risk.EarningTooFast) as refused:
                risk.check_earn_velocity(member.id, now=clock.now(), **kwargs)
            assert refused.value.dimension == dimension
    clock.advance(hours=2)  # a new window
    risk.check_earn_velocity(members[0].id, device="dev-shared-1", ip=PUBLIC_IP, now=clock.now())


def test_velocity_applies_to_discretionary_grants(app, hq, clock):
    from mall.budgets.services import issue_discretionary
    app.config["MALL_RISK_VELOCITY"] = {"member": (2, 3600), "device": (10, 3600), "ip": (10, 3600)}
    settings.reload(app)
    member = make_user(clock.now())
    for n in range(2):
        issue_discretionary(member.id, 5, store_id=None, kind="task", reason="checkin", source="t", key=f"k{n}",
                            expires_at=clock.now() + timedelta(days=30), now=clock.now())
    with pytest.raises(risk.EarningTooFast):
        issue_discretionary(member.id, 5, store_id=None, kind="task", reason="checkin", source="t", key="k3",
                            expires_at=clock.now() + timedelta(days=30), now=clock.now())
    assert _balance(member) == 10


# --- clusters -----------------------------------------------------------------------------

def test_accounts_sharing_a_device_beyond_the_threshold_are_a_cluster(hq, clock):
    farm = [make_user(clock.now()) for _ in range(3)]
    for m in farm:
        risk.record_sighting(m.id, device="farm-phone-0001", ip=None, now=clock.now())
    pair = [make_user(clock.now()) for _ in range(2)]  # a couple sharing a tablet: below the threshold
    for m in pair:
        risk.record_sighting(m.id, device="family-tablet-01", ip=None, now=clock.now())
    found = risk.clusters()
    assert [(c.kind, c.value, len(c.members)) for c in found] == [("device", "farm-phone-0001", 3)]
    assert all(risk.in_flagged_cluster(m.id) for m in farm)
    assert not any(risk.in_flagged_cluster(m.id) for m in pair)


def test_accounts_sharing_a_public_address_are_a_cluster_but_loopback_is_ignored(hq, clock):
    members = [make_user(clock.now()) for _ in range(3)]
    for m in members:
        risk.record_sighting(m.id, device=None, ip=PUBLIC_IP, now=clock.now())
        risk.record_sighting(m.id, device=None, ip="127.0.0.1", now=clock.now())
        risk.record_sighting(m.id, device=None, ip="10.0.0.7", now=clock.now())
    assert [(c.kind, c.value) for c in risk.clusters()] == [("ip", PUBLIC_IP)]


# --- the review rules -----------------------------------------------------------------------

def test_a_clean_member_is_not_flagged(hq, clock):
    member = _old_member(clock)
    item = make_item(clock.now(), points=15_000, stock=5)
    order = _place(member, item, clock, ip=PUBLIC_IP, device="own-phone-0001")
    assert order.status == "ready"
    assert db.session.scalar(select(func.count()).select_from(RiskReview)) == 0
    assert not risk.in_flagged_cluster(member.id)


def test_a_new_account_redeeming_a_high_value_item_is_held_for_review(hq, clock):
    member = _new_member(clock)
    cheap, dear = make_item(clock.now(), points=2_000), make_item(clock.now(), points=12_000)
    assert _place(member, cheap, clock, key="a").status == "ready"
    order = _place(member, dear, clock, key="b")
    assert order.status == "in_review"
    review = db.session.scalar(select(RiskReview).where(RiskReview.order_id == order.id))
    assert review.reasons == ["new_account_high_value"]
    assert _stock(dear) == (10, 1, 0)  # held, not sold, while HQ decides


def test_many_orders_from_one_address_are_held_for_review(app, hq, clock):
    app.config["MALL_RISK_ADDRESS_ORDERS"] = 3
    settings.reload(app)
    item = make_item(clock.now(), points=100, stock=20)
    member = _old_member(clock)  # one account: no cluster, only the orders pile up at one address
    statuses = [_place(member, item, clock, key=f"o{n}", ip=PUBLIC_IP, device="phone-abcdef").status
                for n in range(4)]
    assert statuses == ["ready", "ready", "in_review", "in_review"]
    reasons = db.session.scalars(select(RiskReview.reasons)).all()
    assert reasons == [["many_orders_one_address"], ["many_orders_one_address"]]


def test_a_member_of_a_flagged_cluster_is_held_for_review(hq, clock):
    farm = [_old_member(clock) for _ in range(3)]
    for m in farm[:2]:
        risk.record_sighting(m.id, device="farm-phone-0002", ip=None, now=clock.now())
    item = make_item(clock.now(), points=100)
    order = _place(farm[2], item, clock, device="farm-phone-0002")  # the third account on the device
    assert order.status == "in_review"
    assert db.session.scalar(select(RiskReview.reasons)) == ["flagged_cluster"]


# --- decisions ------------------------------------------------------------------------------

def _held_order(clock, item_points=12_000, plans=()):
    member = _new_member(clock)
    item = make_item(clock.now(), points=item_points, stock=3, plans=plans)
    order = _place(member, item, clock, plan=len(plans))
    assert order.status == "in_review"
    review = db.session.scalar(select(RiskReview).where(RiskReview.order_id == order.id))
    db.session.commit()
    return member, item, order, review


def test_approving_a_points_order_sells_it_and_keeps_the_points(hq, clock):
    member, item, order, review = _held_order(clock)
    risk.decide_review(review.id, approve=True, actor_id=hq.id, reason="known customer", now=clock.now(), hold_minutes=10)
    db.session.commit()
    assert db.session.get(Order, order.id).status == "ready"
    assert _stock(item) == (3, 0, 1)
    assert _balance(member) == 50_000 - 12_000
    assert db.session.scalar(select(Reservation.status).where(Reservation.order_id == order.id)) == "confirmed"
    assert not [f for f in run_audit() if f.violations]
    assert db.session.scalar(select(AuditEntry.action).where(AuditEntry.subject_id == order.id,
                                                             AuditEntry.action.like("review_%"))) == "review_approved"
    with pytest.raises(risk.ReviewAlreadyDecided):
        risk.decide_review(review.id, approve=False, actor_id=hq.id, reason="again", now=clock.now(), hold_minutes=10)


def test_rejecting_refunds_everything(hq, clock):
    member, item, order, review = _held_order(clock)
    risk.decide_review(review.id, approve=False, actor_id=hq.id, reason="farmed points", now=clock.now(), hold_minutes=10)
    db.session.commit()
    order = db.session.get(Order, order.id)
    assert order.status == "refunded"
    assert _stock(item) == (3, 0, 0)
    assert _balance(member) == 50_000
    entries = db.session.scalars(select(LedgerEntry.kind).where(LedgerEntry.reference == order.number)
                                 .order_by(LedgerEntry.id)).all()
    assert entries == ["spend", "refund"]
    assert db.session.scalar(select(func.count()).select_from(Payment).where(Payment.order_id == order.id)) == 0
    assert "review_rejected" in [e.kind for e in order.events]
    assert not [f for f in run_audit() if f.violations]


def test_approving_a_points_and_cash_order_holds_it_for_payment_again(hq, clock):
    member, item, order, review = _held_order(clock, plans=[("points_cash", 11_000, 60_000, None)])
    clock.advance(hours=5)  # HQ decides later: the member gets a fresh hold to pay
    risk.decide_review(review.id, approve=True, actor_id=hq.id, reason="ok", now=clock.now(), hold_minutes=10)
    order = db.session.get(Order, order.id)
    assert order.status == "awaiting_payment" and order.reserved_until == clock.now() + timedelta(minutes=10)
    order_service.confirm_at_counter(order.id, member.id, clock.now())
    assert order.status == "ready" and _stock(item) == (3, 0, 1)
    assert order.cash_due_at_counter == 60_000


def test_rejecting_a_points_and_cash_order_takes_no_cash(hq, clock):
    member, item, order, review = _held_order(clock, plans=[("points_cash", 11_000, 60_000, None)])
    risk.decide_review(review.id, approve=False, actor_id=hq.id, reason="no", now=clock.now(), hold_minutes=10)
    order = db.session.get(Order, order.id)
    assert (order.status, order.cash_collected_minor, order.payment) == ("refunded", 0, None)
    assert _balance(member) == 50_000 and _stock(item) == (3, 0, 0)


def test_a_held_order_is_not_expired_by_the_hold_job(hq, clock):
    _member, item, order, _review = _held_order(clock)
    clock.advance(hours=3)
    assert order.id not in order_service.due_for_expiry(clock.now())


def test_review_queue_page_approves_through_the_form(client, auth, hq, clock):
    member, item, order, review = _held_order(clock)
    auth.login("hq@example.com")
    page = client.get("/hq/risk").get_data(as_text=True)
    assert order.number in page and "New account redeeming a high-value item" in page
    assert client.post(f"/hq/risk/reviews/{review.id}/decide", data={"decision": "approve", "reason": ""}).status_code == 302
    assert db.session.get(RiskReview, review.id).status == "pending"  # a reason is required
    client.post(f"/hq/risk/reviews/{review.id}/decide", data={"decision": "approve", "reason": "checked by phone"})
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == "ready"


# --- freezing -------------------------------------------------------------------------------

def test_hq_freezes_and_unfreezes_with_a_reason_the_member_sees(client, auth, hq, clock):
    member = make_user(clock.now(), login="farmer@example.com")
    db.session.commit()
    auth.login("hq@example.com")
    assert client.post(f"/hq/members/{member.id}/freeze", data={"reason": ""}).status_code == 302
    assert not db.session.get(type(member), member.id).is_frozen
    client.post(f"/hq/members/{member.id}/freeze", data={"reason": "points farming from one device"})
    auth.logout()
    refused = client.post("/login", data={"identifier": "farmer@example.com", "password": PASSWORD})
    assert "points farming from one device" in refused.get_data(as_text=True)
    auth.login("hq@example.com")
    client.post(f"/hq/members/{member.id}/unfreeze", data={"reason": "appeal accepted"})
    auth.logout()
    assert auth.login("farmer@example.com").status_code == 302
    actions = db.session.scalars(select(AuditEntry.action).where(AuditEntry.subject_id == member.id)
                                 .order_by(AuditEntry.id)).all()
    assert actions == ["account_frozen", "account_unfrozen"]
    auth.logout()
    auth.login("hq@example.com")
    log = client.get("/hq/audit").get_data(as_text=True)
    assert "Account frozen" in log and "points farming from one device" in log and "appeal accepted" in log
    assert "Account unfrozen" in client.get(f"/hq/members/{member.id}").get_data(as_text=True)
