"""Checkout through the test client and the services, on the fast SQLite suite."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from mall.checkout import orders as order_service
from mall.checkout.models import Order, OrderEvent
from mall.checkout.quotes import LineRequest
from mall.errors import InsufficientPoints
from mall.extensions import db
from mall.inventory.models import StockLevel
from mall.inventory.reservations import OutOfStock
from mall.audit import run_audit
from mall.points.models import PointsAccount
from tests.factories import give_points, make_item, make_user

ARGS = dict(hold_minutes=10, card_payments=False, points_per_unit=100)


@pytest.fixture
def member(tiers, clock):
    user = make_user(clock.now(), login="buyer@example.com")
    give_points(user.id, 5000, clock.now())
    db.session.commit()
    return user


def _stock(item):
    db.session.expire_all()
    level = db.session.get(StockLevel, item.id)
    return level.received, level.reserved, level.sold


def _balance(member):
    db.session.expire_all()
    return db.session.get(PointsAccount, member.id).balance


def _clean_audit():
    return [f for f in run_audit() if f.violations]


def _place(member, item, plan_index=0, qty=1, key="k", offset=0, clock=None):
    plan = item.plans[plan_index]
    return order_service.place_order(member.id, [LineRequest(item.id, plan.id, qty, offset)], key=key,
                                     now=clock.now(), **ARGS)


def test_a_points_only_order_is_ready_at_once_and_takes_points_and_stock(member, clock):
    item = make_item(clock.now(), points=1200, stock=5)
    order = _place(member, item, qty=2, clock=clock)
    db.session.commit()
    assert order.status == "ready" and order.points_total == 2400
    assert _stock(item) == (5, 0, 2)
    assert _balance(member) == 2600
    assert not _clean_audit()


def test_points_plus_cash_is_held_with_a_countdown_until_the_member_confirms_counter_payment(member, auth, client, clock):
    item = make_item(clock.now(), points=2000, plans=[("points_cash", 1000, 990, None)], stock=3)
    db.session.commit()
    auth.login("buyer@example.com")
    response = client.post(f"/catalog/{item.id}/buy", data={"plan_id": item.plans[1].id, "quantity": 1, "key": "a"})
    order = db.session.scalar(select(Order))
    assert response.headers["Location"].endswith(f"/orders/{order.id}")
    page = client.get(f"/orders/{order.id}").get_data(as_text=True)
    assert "Awaiting payment" in page and "data-deadline" in page and "¥9.90" in page
    assert _stock(item) == (3, 1, 0)
    client.post(f"/orders/{order.id}/pay-at-counter")
    db.session.expire_all()
    order = db.session.get(Order, order.id)
    assert order.status == "ready" and order.cash_due_at_counter == 990
    assert _stock(item) == (3, 0, 1)
    page = client.get(f"/orders/{order.id}").get_data(as_text=True)
    assert "Ready for pickup" in page and "¥9.90 to pay at the counter" in page
    assert not _clean_audit()


def test_a_double_tapped_submit_places_one_order(member, auth, client, clock):
    item = make_item(clock.now(), points=1000)
    db.session.commit()
    auth.login("buyer@example.com")
    for _ in range(3):
        client.post(f"/catalog/{item.id}/buy", data={"plan_id": item.plans[0].id, "quantity": 1, "key": "same"})
    assert db.session.scalar(select(func.count()).select_from(Order)) == 1
    assert _balance(member) == 4000


def test_cancel_while_unpaid_returns_points_and_stock_and_records_who(member, auth, client, clock):
    item = make_item(clock.now(), points=2000, plans=[("points_cash", 1000, 990, None)], stock=3)
    order = _place(member, item, plan_index=1, clock=clock)
    db.session.commit()
    auth.login("buyer@example.com")
    client.post(f"/orders/{order.id}/cancel")
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == "cancelled"
    assert _balance(member) == 5000 and _stock(item) == (3, 0, 0)
    event = db.session.scalar(select(OrderEvent).where(OrderEvent.kind == "cancelled"))
    assert event.actor == "member" and event.actor_id == member.id
    assert not _clean_audit()


def test_the_jobs_command_releases_an_expired_hold_with_nobody_visiting(app, member, clock):
    item = make_item(clock.now(), points=2000, plans=[("points_cash", 1000, 990, None)], stock=1)
    order = _place(member, item, plan_index=1, clock=clock)
    db.session.commit()
    clock.advance(minutes=9)
    app.test_cli_runner().invoke(args=["mall", "jobs"])
    assert db.session.get(Order, order.id).status == "awaiting_payment"
    clock.advance(minutes=2)
    result = app.test_cli_runner().invoke(args=["mall", "jobs"])
    assert "1 expired holds released" in result.output
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == "expired"
    assert _stock(item) == (1, 0, 0) and _balance(member) == 5000
    assert not _clean_audit()


def test_not_enough_points_is_refused_and_nothing_is_written(member, clock):
    item = make_item(clock.now(), points=6000)
    db.session.commit()
    with pytest.raises(InsufficientPoints):
        _place(member, item, clock=clock)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Order)) == 0
    assert _stock(item) == (10, 0, 0) and _balance(member) == 5000


def test_points_past_their_expiry_buy_nothing_even_before_the_expiry_job_runs(tiers, auth, client, clock):
    buyer = make_user(clock.now(), login="late-buyer@example.com")
    give_points(buyer.id, 1000, clock.now(), days_valid=30)
    item = make_item(clock.now(), points=1000)
    db.session.commit()
    clock.advance(days=31)  # the lot is past its expiry; no job has expired it yet
    auth.login("late-buyer@example.com")
    response = client.post(f"/catalog/{item.id}/buy", data={"plan_id": item.plans[0].id, "quantity": 1, "key": "k"})
    assert response.status_code == 422  # strict: a refusal that had written anything would fail here
    assert "You need 1,000 points but have 0." in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Order)) == 0
    assert _stock(item) == (10, 0, 0) and _balance(buyer) == 1000


def test_the_per_member_limit_counts_live_orders(member, clock):
    item = make_item(clock.now(), points=100, limit=2)
    _place(member, item, qty=2, key="a", clock=clock)
    with pytest.raises(order_service.LimitReached):
        _place(member, item, qty=1, key="b", clock=clock)


def test_a_sold_out_item_shows_sold_out_and_cannot_be_bought(member, auth, client, clock):
    item = make_item(clock.now(), points=100, stock=0)
    db.session.commit()
    auth.login("buyer@example.com")
    page = client.get(f"/catalog/{item.id}").get_data(as_text=True)
    assert "Sold out" in page and "Buy now" not in page
    response = client.post(f"/catalog/{item.id}/buy", data={"plan_id": item.plans[0].id, "quantity": 1, "key": "x"})
    assert response.status_code == 409
    assert "just sold out" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Order)) == 0
    assert _balance(member) == 5000


def test_an_offset_beyond_the_cap_is_refused_next_to_the_field(member, auth, client, clock):
    item = make_item(clock.now(), points=5000, plans=[("cash_offset", 0, 9990, 30)])
    db.session.commit()
    auth.login("buyer@example.com")
    response = client.post(f"/catalog/{item.id}/buy", data={"plan_id": item.plans[1].id, "quantity": 1,
                                                            "offset_points": 3000, "key": "x"})
    assert response.status_code == 422
    assert "between 0 and 2,997 points" in response.get_data(as_text=True) or "between 0 and 2997 points" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Order)) == 0


def test_the_quote_shows_exactly_what_the_order_charges(member, auth, client, clock):
    item = make_item(clock.now(), points=5000, plans=[("cash_offset", 0, 9990, 30)])
    db.session.commit()
    auth.login("buyer@example.com")
    form = {"plan_id": item.plans[1].id, "quantity": 2, "offset_points": 1234, "key": "q"}
    quote = client.post(f"/catalog/{item.id}/quote", data=form, headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in quote
    assert "1,234" in quote and "¥187.46" in quote and "3,766" in quote
    client.post(f"/catalog/{item.id}/buy", data=form)
    order = db.session.scalar(select(Order))
    assert (order.points_total, order.cash_total_minor) == (1234, 18746)


def test_cart_add_change_remove_and_checkout(member, auth, client, clock):
    a = make_item(clock.now(), name="Mug", points=1000)
    b = make_item(clock.now(), name="Tea", points=500)
    db.session.commit()
    auth.login("buyer@example.com")
    client.post(f"/catalog/{a.id}/cart", data={"plan_id": a.plans[0].id, "quantity": 1, "key": "c1"})
    client.post(f"/catalog/{b.id}/cart", data={"plan_id": b.plans[0].id, "quantity": 1, "key": "c2"})
    from mall.checkout.models import CartLine
    lines = {l.item_id: l.id for l in db.session.scalars(select(CartLine))}
    fragment = client.post(f"/cart/{lines[a.id]}/quantity", data={"quantity": 3},
                           headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in fragment and "3,500" in fragment
    client.post(f"/cart/{lines[b.id]}/remove", headers={"HX-Request": "true"})
    page = client.get("/cart").get_data(as_text=True)
    assert "Tea" not in page and "Mug" in page
    response = client.post("/cart/checkout", data={"key": "cart-1"})
    assert response.status_code == 302
    assert _balance(member) == 2000
    assert "Your cart is empty" in client.get("/cart").get_data(as_text=True)


def test_a_double_tapped_add_to_cart_adds_once_and_a_second_tap_of_a_fresh_form_adds_again(member, auth, client, clock):
    from mall.checkout.models import CartLine
    item = make_item(clock.now(), name="Mug", points=1000)
    db.session.commit()
    auth.login("buyer@example.com")
    form = {"plan_id": item.plans[0].id, "quantity": 1, "key": "tap-1"}
    assert client.post(f"/catalog/{item.id}/cart", data=form).status_code == 302
    assert client.post(f"/catalog/{item.id}/cart", data=form).status_code == 302
    db.session.expire_all()
    assert db.session.scalar(select(CartLine.quantity)) == 1
    client.post(f"/catalog/{item.id}/cart", data={**form, "key": "tap-2"})
    db.session.expire_all()
    assert db.session.scalar(select(CartLine.quantity)) == 2


def test_orders_list_and_timeline(member, auth, client, clock):
    item = make_item(clock.now(), name="Mug", points=1000)
    order = _place(member, item, clock=clock)
    db.session.commit()
    auth.login("buyer@example.com")
    assert order.number in client.get("/orders").get_data(as_text=True)
    page = client.get(f"/orders/{order.id}").get_data(as_text=True)
    assert "Order placed, stock held and points taken" in page and "Ready for pickup" in page


def test_another_members_order_is_not_found(member, auth, client, clock):
    item = make_item(clock.now(), points=100)
    order = _place(member, item, clock=clock)
    make_user(clock.now(), login="other@example.com")
    db.session.commit()
    auth.login("other@example.com")
    assert client.get(f"/orders/{order.id}").status_code == 404
    assert client.post(f"/orders/{order.id}/cancel").status_code == 404


def test_hq_refunds_a_ready_order_in_full_and_stock_and_points_come_back(member, client, auth, clock):
    item = make_item(clock.now(), points=1000, stock=2)
    order = _place(member, item, clock=clock)
    make_user(clock.now(), role="hq", login="hq@example.com")
    db.session.commit()
    auth.login("hq@example.com")
    page = client.get(f"/hq/orders?number={order.number}").get_data(as_text=True)
    assert "Refund in full" in page
    assert client.post(f"/hq/orders/{order.id}/refund", data={"reason": ""}).status_code == 302
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == "ready"  # no reason, no refund
    client.post(f"/hq/orders/{order.id}/refund", data={"reason": "damaged in store"})
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == "refunded"
    assert _stock(item) == (2, 0, 0) and _balance(member) == 5000
    event = db.session.scalar(select(OrderEvent).where(OrderEvent.kind == "refunded"))
    assert event.note == "damaged in store" and event.actor == "staff"
    assert not _clean_audit()
