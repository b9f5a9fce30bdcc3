"""Every way an order with a coupon ends keeps "one intent, one effect" for the coupon and for
what a coupon order delivers (a review found these gaps):
- a rejected review gives the coupon back, as a cancel or an expiry does;
- a card payment arriving after the coupon was given back is refunded, never confirmed at
  the discount of a coupon the member has again;
- a coupon order is refused before anything is charged when the wallet could not issue what it
  buys (issue ended, the member's limit), and refunded if that happens before the payment lands;
- the cash part of a coupon, red packet or right is paid by card: without card payments that
  plan is refused, and an older such order can't be "paid at the counter" (nothing to pick up).
"""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from mall.audit import run_audit
from mall.checkout.models import Order, Payment
from mall.checkout.orders import KindRefused, NotCancellable, confirm_at_counter, expire_order, place_order
from mall.checkout.payments import apply_event
from mall.checkout.quotes import LineRequest
from mall.extensions import db
from mall.inventory.models import StockLevel
from mall.points.models import PointsAccount
from mall.risk import services as risk
from mall.wallet.issue import CouponLimitReached, CouponSpecInactive, issue
from mall.wallet.models import CouponSpec, WalletItem
from tests.factories import give_points, make_item, make_tiers, make_user
from tests.wallet_world import make_spec

CARD = dict(hold_minutes=10, card_payments=True, points_per_unit=100)
COUNTER = dict(CARD, card_payments=False)


@pytest.fixture
def member(app, clock):
    make_tiers()
    member = make_user(clock.now() - timedelta(days=365), login="coupons@example.com")
    give_points(member.id, 50_000, clock.now())
    db.session.commit()
    return member


def _coupon(member, clock, value_minor=500):
    item = issue(member.id, make_spec(clock.now(), kind="amount", value_minor=value_minor, name="¥5 off"),
                 source="game", source_ref=f"t{value_minor}", now=clock.now())
    db.session.commit()
    return item


def _state(coupon_id):
    db.session.expire_all()
    item = db.session.get(WalletItem, coupon_id)
    return item.state, item.order_id


def _card_order(member, item, clock, coupon, key="k1"):
    order = place_order(member.id, [LineRequest(item.id, item.plans[1].id, 1)], key=key, now=clock.now(),
                        coupon=coupon.short_code, **CARD)
    db.session.add(Payment(order_id=order.id, intent_id=f"pi_{key}", amount_minor=order.cash_total_minor,
                           currency="cny", status="requires_payment_method", created_at=clock.now(),
                           updated_at=clock.now()))
    db.session.commit()
    return order


def _event(order, event_type, clock, n=1):
    result = apply_event(f"evt_{event_type}_{order.id}_{n}", event_type,
                         {"id": f"pi_{order.idempotency_key}", "amount": order.cash_total_minor}, clock.now(),
                         hold_minutes=10)
    db.session.commit()
    return result


def test_a_rejected_review_gives_the_coupon_back(member, clock):
    hq = make_user(clock.now(), role="hq", login="hq@example.com")
    newcomer = make_user(clock.now(), login="new@example.com")  # a new account redeeming a high-value item
    give_points(newcomer.id, 50_000, clock.now())
    item = make_item(clock.now(), points=20_000, stock=5, plans=[("points_cash", 10_000, 3_000, None)])
    coupon = _coupon(newcomer, clock)
    order = place_order(newcomer.id, [LineRequest(item.id, item.plans[1].id, 1)], key="r1", now=clock.now(),
                        coupon=coupon.short_code, **COUNTER,
                        screen=lambda o, now: risk.screen_order(o, now, ip=None, device=None))
    db.session.commit()
    assert order.status == "in_review" and _state(coupon.id) == ("used", order.id)
    review = db.session.scalar(select(risk.RiskReview).where(risk.RiskReview.order_id == order.id))
    risk.decide_review(review.id, approve=False, actor_id=hq.id, reason="not them", now=clock.now(),
                       hold_minutes=10)
    db.session.commit()
    assert _state(coupon.id) == ("available", None)
    assert [f.check for f in run_audit() if f.violations] == []


def test_a_payment_after_the_coupon_was_given_back_is_refunded_not_confirmed(member, clock):
    item = make_item(clock.now(), points=2_000, stock=5, plans=[("points_cash", 1_000, 3_000, None)])
    coupon = _coupon(member, clock)
    order = _card_order(member, item, clock, coupon)
    assert (order.cash_total_minor, order.coupon_discount_minor) == (2_500, 500)
    assert _event(order, "payment_intent.payment_failed", clock) == "released"
    assert _state(coupon.id) == ("available", None)  # the member has it again
    balance = db.session.get(PointsAccount, member.id).balance

    # The member retries the same card intent and the bank now says yes.
    assert _event(order, "payment_intent.succeeded", clock) == "refund due"
    db.session.expire_all()
    order = db.session.get(Order, order.id)
    assert order.status == "payment_failed" and order.payment.status == "refund_due"
    assert _state(coupon.id) == ("available", None)
    assert db.session.get(PointsAccount, member.id).balance == balance  # no points taken again
    assert db.session.get(StockLevel, item.id).sold == 0
    assert [f.check for f in run_audit() if f.violations] == []


def test_a_late_payment_without_a_coupon_is_still_confirmed(member, clock):
    item = make_item(clock.now(), points=2_000, stock=5, plans=[("points_cash", 1_000, 3_000, None)])
    order = place_order(member.id, [LineRequest(item.id, item.plans[1].id, 1)], key="n1", now=clock.now(), **CARD)
    db.session.add(Payment(order_id=order.id, intent_id="pi_n1", amount_minor=3_000, currency="cny",
                           status="requires_payment_method", created_at=clock.now(), updated_at=clock.now()))
    db.session.commit()
    clock.advance(minutes=11)
    expire_order(order.id, clock.now())
    db.session.commit()
    assert _event(order, "payment_intent.succeeded", clock) == "confirmed late"


def _coupon_item(clock, *, plans=(), limit=None):
    item = make_item(clock.now(), name="¥10 voucher", points=300, stock=10, kind="coupon", plans=plans)
    make_spec(clock.now(), kind="amount", value_minor=1_000, name="Ten off", item_id=item.id,
              per_member_limit=limit)
    db.session.commit()
    return item


def _charged_nothing(member, balance):
    db.session.expire_all()
    return (db.session.get(PointsAccount, member.id).balance == balance
            and db.session.scalar(select(func.count()).select_from(Order)) == 0)


@pytest.mark.parametrize("why, refusal", [("inactive", CouponSpecInactive), ("limit", CouponLimitReached)])
def test_a_coupon_the_wallet_could_not_issue_is_refused_before_anything_is_charged(member, clock, why, refusal):
    # Points + cash: the coupons would be issued only once the card payment lands, so the
    # order must not be written (points and stock held) when the wallet would refuse them.
    item = _coupon_item(clock, limit=1, plans=[("points_cash", 100, 500, None)])
    balance = db.session.get(PointsAccount, member.id).balance
    if why == "inactive":
        db.session.scalar(select(CouponSpec).where(CouponSpec.item_id == item.id)).active = False
        db.session.commit()
        quantity = 1
    else:
        quantity = 2  # the member may hold one
    with pytest.raises(refusal):
        place_order(member.id, [LineRequest(item.id, item.plans[1].id, quantity)], key="c1", now=clock.now(),
                    **CARD)
    db.session.rollback()
    assert _charged_nothing(member, balance)


def test_a_coupon_order_whose_issue_ended_before_the_payment_landed_is_refunded(member, clock):
    item = _coupon_item(clock, plans=[("points_cash", 100, 500, None)])
    balance = db.session.get(PointsAccount, member.id).balance
    order = place_order(member.id, [LineRequest(item.id, item.plans[1].id, 1)], key="p1", now=clock.now(), **CARD)
    db.session.add(Payment(order_id=order.id, intent_id="pi_p1", amount_minor=500, currency="cny",
                           status="requires_payment_method", created_at=clock.now(), updated_at=clock.now()))
    db.session.scalar(select(CouponSpec).where(CouponSpec.item_id == item.id)).active = False  # HQ stops it
    db.session.commit()

    assert _event(order, "payment_intent.succeeded", clock) == "refund due"
    db.session.expire_all()
    order = db.session.get(Order, order.id)
    assert (order.status, order.payment.status) == ("cancelled", "refund_due")
    assert db.session.get(PointsAccount, member.id).balance == balance  # the points came back
    assert db.session.get(StockLevel, item.id).reserved == 0
    assert db.session.scalar(select(func.count()).select_from(WalletItem)) == 0
    assert [f.check for f in run_audit() if f.violations] == []


def test_without_card_payments_a_coupon_with_a_cash_part_is_refused_and_points_only_works(member, clock, client,
                                                                                          auth):
    item = _coupon_item(clock, plans=[("points_cash", 100, 500, None)])
    balance = db.session.get(PointsAccount, member.id).balance
    with pytest.raises(KindRefused, match="paid by card"):
        place_order(member.id, [LineRequest(item.id, item.plans[1].id, 1)], key="d1", now=clock.now(), **COUNTER)
    db.session.rollback()
    assert _charged_nothing(member, balance)
    auth.login("coupons@example.com")
    page = client.post(f"/catalog/{item.id}/buy", data={"plan_id": item.plans[1].id, "quantity": 1, "key": "d2"},
                       headers={"HX-Request": "true", "Accept-Language": "zh-CN"})
    assert page.status_code == 422 and "银行卡" in page.get_data(as_text=True)
    assert client.post(f"/catalog/{item.id}/buy", data={"plan_id": item.plans[0].id, "quantity": 1,
                                                         "key": "d3"}).status_code == 302


def test_an_older_coupon_order_with_cash_due_cannot_be_paid_at_the_counter(member, clock):
    item = _coupon_item(clock, plans=[("points_cash", 100, 500, None)])
    order = place_order(member.id, [LineRequest(item.id, item.plans[1].id, 1)], key="o1", now=clock.now(), **CARD)
    order.payment_mode = "counter"  # as orders placed before card payments were required were written
    db.session.commit()
    with pytest.raises(NotCancellable, match="nothing to pick up"):
        confirm_at_counter(order.id, member.id, clock.now())
    db.session.rollback()
    assert db.session.get(Order, order.id).status == "awaiting_payment"
    assert db.session.scalar(select(func.count()).select_from(WalletItem)) == 0
