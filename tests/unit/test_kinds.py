"""Reward kinds (issue 13) through the pages, on SQLite: a coupon or red packet is fulfilled
at once and announced to the wallet, a right is confirmed and granted for its validity, a
service is booked in a slot; each order page shows its kind's panel and no pickup QR
unless it is goods. The capacity race is in tests/integration/test_bookings_pg.py."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from mall.checkout.models import Order
from mall.checkout.orders import KindRefused, place_order
from mall.checkout.quotes import LineRequest
from mall.events import order_changed
from mall.extensions import db
from mall.inventory.models import StockLevel
from mall.rights.models import RightGrant
from mall.rights.services import held_by
from tests.factories import PASSWORD, make_item
from tests.kinds_world import ARGS, make_kinds_world
from tests.wallet_world import make_spec


@pytest.fixture
def world(tiers, clock):
    return make_kinds_world(clock.now())


def _login(client, login="kinds-member@example.com"):
    assert client.post("/login", data={"identifier": login, "password": PASSWORD}).status_code == 302


def _orders() -> int:
    return db.session.scalar(select(func.count()).select_from(Order))


@pytest.mark.parametrize("kind", ["coupon", "red_packet"])
def test_a_coupon_or_red_packet_order_is_fulfilled_at_once_and_announced_to_the_wallet(world, client, clock, kind):
    coupon = make_item(clock.now(), name="¥10 voucher", points=300, stock=5, kind=kind)
    make_spec(clock.now(), kind="amount", value_minor=1_000, name="Ten off", item_id=coupon.id)
    db.session.commit()
    heard = []

    def listen(sender, *, order, kind, now, **_):
        heard.append((kind, [(l.item_id, l.item_kind, l.quantity) for l in order.lines], order.status))
    order_changed.connect(listen)
    try:
        _login(client)
        response = client.post(f"/catalog/{coupon.id}/buy",
                               data={"plan_id": coupon.plans[0].id, "quantity": 2, "key": "c1"})
    finally:
        order_changed.disconnect(listen)
    assert response.status_code == 302
    order = db.session.scalar(select(Order).where(Order.member_id == world.member_id))
    assert order.status == "fulfilled" and order.kind == kind
    # The wallet's contract (docs/checkout.md): "placed", then "fulfilled" with the lines' kinds.
    assert [h[0] for h in heard] == ["placed", "fulfilled"]
    assert heard[-1] == ("fulfilled", [(coupon.id, kind, 2)], "fulfilled")
    stock = db.session.get(StockLevel, coupon.id)
    assert (stock.received, stock.reserved, stock.sold) == (5, 0, 2)  # the batch is the item's stock
    page = client.get(f"/orders/{order.id}").get_data(as_text=True)
    assert "Added to your wallet" in page and 'href="/wallet"' in page
    assert "Your pickup code" not in page and "qr-box" not in page


def test_a_goods_order_still_shows_its_pickup_qr(world, client, clock):
    goods = make_item(clock.now(), points=100)
    db.session.commit()
    _login(client)
    client.post(f"/catalog/{goods.id}/buy", data={"plan_id": goods.plans[0].id, "quantity": 1, "key": "g"})
    order = db.session.scalar(select(Order).where(Order.member_id == world.member_id))
    assert order.status == "ready" and order.kind == "goods"
    assert "Your pickup code" in client.get(f"/orders/{order.id}").get_data(as_text=True)


def test_a_right_needs_its_confirmation_then_is_granted_for_the_items_validity(world, client, clock):
    _login(client)
    page = client.get(f"/catalog/{world.right.id}").get_data(as_text=True)
    until = clock.now() + timedelta(days=90)
    assert "You will get Priority purchase until" in page
    data = {"plan_id": world.right.plans[0].id, "quantity": 1, "key": "r1"}
    refused = client.post(f"/catalog/{world.right.id}/buy", data=data)
    assert refused.status_code == 422 and _orders() == 0
    assert "Confirm that you understand" in refused.get_data(as_text=True)
    response = client.post(f"/catalog/{world.right.id}/buy", data={**data, "confirm_right": "y"})
    assert response.status_code == 302
    order = db.session.scalar(select(Order).where(Order.member_id == world.member_id))
    assert order.status == "fulfilled"
    grant = db.session.scalar(select(RightGrant))
    assert (grant.account_id, grant.right_kind, grant.order_id) == (world.member_id, "priority_purchase", order.id)
    assert grant.valid_from == clock.now() and grant.valid_until == until
    assert [r.kind for r in held_by(world.member_id, clock.now())] == ["priority_purchase"]
    assert held_by(world.member_id, until) == []  # ends at its validity
    page = client.get(f"/orders/{order.id}").get_data(as_text=True)
    assert "Right granted" in page and "Your pickup code" not in page


def test_the_wallet_rights_partial_lists_the_rights_in_force(world, client, clock, app):
    from flask import render_template

    from mall.rights.services import grant
    grant(world.member_id, "free_delivery", source="test:1", valid_from=clock.now(),
          valid_until=clock.now() + timedelta(days=30), now=clock.now())
    db.session.commit()
    _login(client)
    with app.test_request_context():
        from flask_login import login_user

        from mall.accounts.models import User
        login_user(db.session.get(User, world.member_id))
        html = render_template("wallet/_rights.html")
    assert "Free delivery" in html and 'data-right="free_delivery"' in html


def test_a_reward_that_is_not_goods_is_bought_alone_and_not_through_the_cart(world, client, clock):
    goods = make_item(clock.now(), points=100)
    db.session.commit()
    with pytest.raises(KindRefused):
        place_order(world.member_id, [LineRequest(goods.id, goods.plans[0].id, 1),
                                      LineRequest(world.right.id, world.right.plans[0].id, 1)],
                    key="mix", now=clock.now(), **ARGS)
    with pytest.raises(KindRefused):  # a service needs its slot
        place_order(world.member_id, [LineRequest(world.service.id, world.service.plans[0].id, 1)],
                    key="noslot", now=clock.now(), **ARGS)
    _login(client)
    response = client.post(f"/catalog/{world.right.id}/cart", data={"plan_id": world.right.plans[0].id,
                                                                      "quantity": 1, "key": "k"})
    assert response.status_code == 302 and "/catalog/" in response.headers["Location"]
    assert "Add to cart" not in client.get(f"/catalog/{world.right.id}").get_data(as_text=True)


def test_the_catalogue_filters_and_badges_by_kind(world, client, clock):
    page = client.get("/catalog?kind=service").get_data(as_text=True)
    assert "Home cleaning, 2 h" in page and "Priority purchase, 90 days" not in page
    assert "kind-badge kind-service" in page
    assert "Home cleaning" not in client.get("/catalog?kind=goods").get_data(as_text=True)


def test_priority_purchase_holders_preorder_before_everyone_else(world, client, clock):
    from mall.presale import services as presale
    from mall.presale.services import PresaleClosed
    from mall.rights.services import grant
    from tests.factories import give_points, make_user
    crab = make_item(clock.now(), name="Hairy crab box", points=1000, stock=0)
    sale = presale.save_presale(crab.id, opens_at=clock.now() + timedelta(hours=24),
                                closes_at=clock.now() + timedelta(days=7), cap=5,
                                ships_on=(clock.now() + timedelta(days=10)).date(), offer_hours=48, now=clock.now(),
                                priority_opens_at=clock.now() - timedelta(hours=1))
    other = make_user(clock.now(), login="no-right@example.com")
    give_points(other.id, 5000, clock.now())
    grant(world.member_id, "priority_purchase", source="test:priority", valid_from=clock.now(),
          valid_until=clock.now() + timedelta(days=30), now=clock.now())
    db.session.commit()
    request = LineRequest(crab.id, crab.plans[0].id, 1)
    with pytest.raises(PresaleClosed) as refused:
        presale.preorder(other.id, sale.id, request, key="early", now=clock.now(), points_per_unit=100)
    assert "Opens for everyone at" in str(refused.value.message)
    order = presale.preorder(world.member_id, sale.id, request, key="early", now=clock.now(), points_per_unit=100)
    assert order.status == "preordered" and order.queue_position == 1
    db.session.commit()
    _login(client, "no-right@example.com")
    page = client.get(f"/catalog/{crab.id}").get_data(as_text=True)
    assert "Opens for everyone at" in page and "Pre-order now" not in page
    client.post("/logout")
    _login(client)
    page = client.get(f"/catalog/{crab.id}").get_data(as_text=True)
    assert "Priority access" in page and "Pre-order now" in page
    clock.advance(hours=24)  # open for everyone now
    assert presale.preorder(other.id, sale.id, request, key="later", now=clock.now(),
                            points_per_unit=100).queue_position == 2


def test_buying_a_right_already_held_extends_it_from_its_end(world, client, clock):
    _login(client)
    data = {"plan_id": world.right.plans[0].id, "quantity": 1, "confirm_right": "y"}
    assert client.post(f"/catalog/{world.right.id}/buy", data={**data, "key": "x1"}).status_code == 302
    first_end = clock.now() + timedelta(days=90)
    clock.advance(days=10)
    page = client.get(f"/catalog/{world.right.id}").get_data(as_text=True)
    assert "You will get Priority purchase until" in page
    assert client.post(f"/catalog/{world.right.id}/buy", data={**data, "key": "x2"}).status_code == 302
    grants = db.session.scalars(select(RightGrant).order_by(RightGrant.id)).all()
    assert [(g.valid_from, g.valid_until) for g in grants[1:]] == [(first_end, first_end + timedelta(days=90))]
    [held] = held_by(world.member_id, clock.now())
    assert (held.valid_from, held.valid_until) == (grants[0].valid_from, first_end + timedelta(days=90))
    assert held_by(world.member_id, first_end + timedelta(days=1))[0].valid_until == first_end + timedelta(days=90)
