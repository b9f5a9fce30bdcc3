"""Coupons in the mall (issue 13): a coupon takes money off the cash part of a points + cash
order, by the same figure on the quote and on the order, spent in the order's transaction and
given back when the order is cancelled; a catalogue item sells coupons for points."""
import pytest
from sqlalchemy import func, select

from mall.audit import run_audit
from mall.checkout.coupons import CouponRefused
from mall.checkout.orders import cancel_order, place_order, refund_order
from mall.checkout.quotes import LineRequest
from mall.errors import DomainError
from mall.events import order_changed
from mall.extensions import db
from mall.wallet.issue import issue
from mall.wallet.models import WalletItem
from tests.factories import PASSWORD, give_points, make_item, make_tiers, make_user
from tests.wallet_world import make_spec

ARGS = dict(hold_minutes=10, card_payments=False, points_per_unit=100)


@pytest.fixture
def shop(app, clock):
    make_tiers()
    member = make_user(clock.now(), login="shopper@example.com")
    give_points(member.id, 10_000, clock.now())
    item = make_item(clock.now(), points=1000, stock=20, plans=[("points_cash", 500, 3_000, None)])
    db.session.commit()
    return member, item


def _coupon(member, clock, **kw):
    item = issue(member.id, make_spec(clock.now(), **kw), source="game", source_ref=f"t{kw}", now=clock.now())
    db.session.commit()
    return item


def test_a_coupon_takes_its_value_off_the_cash_part_of_the_order(shop, clock):
    member, item = shop
    coupon = _coupon(member, clock, kind="amount", value_minor=500, name="¥5 off")
    order = place_order(member.id, [LineRequest(item.id, item.plans[1].id, 1)], key="k1", now=clock.now(),
                        coupon=coupon.short_code, **ARGS)
    db.session.commit()
    assert (order.points_total, order.cash_total_minor) == (500, 2_500)
    assert sum(line.cash_minor for line in order.lines) == 2_500
    spent = db.session.get(WalletItem, coupon.id)
    assert (spent.state, spent.order_id, spent.discount_minor) == ("used", order.id, 500)
    assert [f.check for f in run_audit() if f.violations] == []


def test_the_quote_shows_the_figure_the_order_charges(shop, clock, auth, client):
    member, item = shop
    coupon = _coupon(member, clock, kind="threshold", threshold_minor=5_000, value_minor=1_000)
    auth.login("shopper@example.com", PASSWORD)
    form = {"plan_id": item.plans[1].id, "quantity": 2, "coupon": coupon.short_code, "key": "q1"}
    response = client.post(f"/catalog/{item.id}/quote", data=form, headers={"HX-Request": "true"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert "¥50" in response.get_data(as_text=True) and "−¥10" in response.get_data(as_text=True)
    assert client.post(f"/catalog/{item.id}/buy", data=form).status_code == 302
    spent = db.session.scalar(select(WalletItem).where(WalletItem.id == coupon.id))
    assert spent.discount_minor == 1_000
    page = client.get(f"/orders/{spent.order_id}").get_data(as_text=True)
    assert "−¥10" in page and "¥50" in page  # ¥60 of cash less the coupon


def test_the_cart_checkout_takes_a_coupon_too(shop, clock, auth, client):
    member, item = shop
    coupon = _coupon(member, clock, kind="amount", value_minor=700)
    auth.login("shopper@example.com", PASSWORD)
    client.post(f"/catalog/{item.id}/cart", data={"plan_id": item.plans[1].id, "quantity": 1, "key": "c1"})
    page = client.get("/cart").get_data(as_text=True)
    assert 'name="coupon"' in page
    assert client.post("/cart/checkout", data={"key": "cart-1", "coupon": coupon.short_code}).status_code == 302
    assert db.session.get(WalletItem, coupon.id).discount_minor == 700


def test_a_coupon_below_its_threshold_is_refused_and_nothing_is_written(shop, clock):
    member, item = shop
    coupon = _coupon(member, clock, kind="threshold", threshold_minor=5_000, value_minor=1_000)
    with pytest.raises(CouponRefused) as refused:
        place_order(member.id, [LineRequest(item.id, item.plans[1].id, 1)], key="k2", now=clock.now(),
                    coupon=coupon.code, **ARGS)
    assert "¥50" in str(refused.value.message)
    db.session.rollback()
    assert db.session.get(WalletItem, coupon.id).state == "available"


def test_another_members_coupon_is_not_found(shop, clock):
    member, item = shop
    other = make_user(clock.now())
    coupon = _coupon(other, clock, kind="amount", value_minor=500)
    with pytest.raises(CouponRefused):
        place_order(member.id, [LineRequest(item.id, item.plans[1].id, 1)], key="k3", now=clock.now(),
                    coupon=coupon.code, **ARGS)


def test_a_cancelled_order_gives_its_coupon_back(shop, clock):
    member, item = shop
    coupon = _coupon(member, clock, kind="percent", percent=20, cap_minor=400, threshold_minor=0)
    order = place_order(member.id, [LineRequest(item.id, item.plans[1].id, 1)], key="k4", now=clock.now(),
                        coupon=coupon.code, **ARGS)
    assert order.cash_total_minor == 2_600  # 20 % of ¥30 is ¥6, capped at ¥4
    cancel_order(order.id, member.id, clock.now())
    db.session.commit()
    back = db.session.get(WalletItem, coupon.id)
    assert (back.state, back.order_id, back.times_returned) == ("available", None, 1)


def test_a_coupon_order_is_fulfilled_into_the_wallet_once_even_when_its_event_is_replayed(shop, clock):
    member, _ = shop
    voucher = make_item(clock.now(), points=800, stock=50, kind="coupon")
    make_spec(clock.now(), kind="amount", value_minor=1_000, name="¥10 voucher", item_id=voucher.id)
    order = place_order(member.id, [LineRequest(voucher.id, voucher.plans[0].id, 2)], key="k5", now=clock.now(),
                        **ARGS)
    db.session.commit()
    assert order.status == "fulfilled"
    issued = db.session.scalars(select(WalletItem).where(WalletItem.source_ref == f"order:{order.id}")).all()
    assert [(w.kind, w.value_minor, w.source, w.seq) for w in issued] == [("amount", 1_000, "points", 1),
                                                                         ("amount", 1_000, "points", 2)]
    order_changed.send("checkout", order=order, kind="fulfilled", now=clock.now())  # a replay
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(WalletItem)) == 2
    hq = make_user(clock.now(), role="hq")
    with pytest.raises(DomainError):  # a fulfilled order is not refundable (docs/checkout.md)
        refund_order(order.id, now=clock.now(), actor_id=hq.id, reason="changed mind")
    assert [f.check for f in run_audit() if f.violations] == []


def test_a_red_packet_item_issues_red_packets_worth_its_spec(shop, clock):
    member, _ = shop
    packet = make_item(clock.now(), points=300, stock=50, kind="red_packet")
    make_spec(clock.now(), kind="amount", value_minor=368, name="¥3.68 red packet", item_id=packet.id, valid_days=7)
    order = place_order(member.id, [LineRequest(packet.id, packet.plans[0].id, 1)], key="k6", now=clock.now(),
                        **ARGS)
    db.session.commit()
    [w] = db.session.scalars(select(WalletItem).where(WalletItem.source_ref == f"order:{order.id}")).all()
    assert (order.status, w.kind, w.value_minor, w.name) == ("fulfilled", "red_packet", 368, "¥3.68 red packet")
    assert [f.check for f in run_audit() if f.violations] == []


def test_a_goods_item_with_a_coupon_spec_issues_nothing_and_the_audit_says_so(shop, clock):
    member, _ = shop
    goods = make_item(clock.now(), points=800, stock=50)
    make_spec(clock.now(), kind="amount", value_minor=1_000, name="¥10 voucher", item_id=goods.id)
    order = place_order(member.id, [LineRequest(goods.id, goods.plans[0].id, 1)], key="k7", now=clock.now(),
                        **ARGS)
    db.session.commit()
    assert order.status == "ready"
    assert db.session.scalar(select(func.count()).select_from(WalletItem)) == 0
    assert "a coupon spec is sold only by a coupon or red-packet catalogue item" in [
        f.check for f in run_audit() if f.violations]
