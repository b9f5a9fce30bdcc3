"""Presale on real PostgreSQL and Redis: the cap under concurrency, allocation by two
workers at once, and a partial receipt's offers accepted, declined and expired."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from mall.checkout.models import Order
from mall.checkout.quotes import LineRequest
from mall.catalog.substitutes import set_substitutes
from mall.errors import InsufficientPoints
from mall.extensions import db
from mall.inventory.models import Reservation, StockLevel
from mall.inventory.services import receive_stock
from mall.audit import run_audit
from mall.points.models import PointsAccount
from mall.presale import services as presale
from tests.concurrency import race
from tests.factories import give_points, make_item, make_tiers, make_user


def _audit_clean():
    return [f for f in run_audit() if f.violations] == []


def _presale(clock, *, cap, ships_in_days=0, points=1000):
    make_tiers()
    item = make_item(clock.now(), name="Console", points=points, stock=0)
    sale = presale.save_presale(item.id, opens_at=clock.now() - timedelta(hours=1),
                                closes_at=clock.now() + timedelta(days=7), cap=cap,
                                ships_on=(clock.now() + timedelta(days=ships_in_days)).date(), offer_hours=48,
                                now=clock.now())
    return item, sale


def _members(clock, n, points=5000):
    members = [make_user(clock.now()) for _ in range(n)]
    for m in members:
        give_points(m.id, points, clock.now())
    return members


def _race(app, n, work):
    return race(app, n, work, refusals=(presale.PresaleFull, InsufficientPoints), returns=True)


def test_fifty_concurrent_preorders_against_a_cap_of_twenty_accept_exactly_twenty(pg_app, clock):
    item, sale = _presale(clock, cap=20)
    ids = [m.id for m in _members(clock, 50)]
    db.session.commit()
    plan_id, sale_id, item_id = item.plans[0].id, sale.id, item.id
    outcomes = _race(pg_app, 50, lambda i: presale.preorder(ids[i], sale_id, LineRequest(item_id, plan_id, 1),
                                                            key=f"p{i}", now=clock.now(), points_per_unit=100))
    db.session.expire_all()
    assert sum(1 for o in outcomes if isinstance(o, Order)) == 20
    assert outcomes.count("PresaleFull") == 30
    assert db.session.scalar(select(func.count()).select_from(Order)) == 20
    positions = sorted(db.session.scalars(select(Order.queue_position)))
    assert positions == list(range(1, 21))
    assert db.session.get(type(sale), sale_id).taken == 20
    assert _audit_clean()


def test_allocation_run_by_two_workers_at_once_allocates_each_unit_once(pg_app, clock):
    item, sale = _presale(clock, cap=10)
    members = _members(clock, 8)
    for n, m in enumerate(members):
        presale.preorder(m.id, sale.id, LineRequest(item.id, item.plans[0].id, 1), key=f"k{n}",
                         now=clock.now(), points_per_unit=100)
    receive_stock(item.id, 5, reference="PO-1", reason="received", now=clock.now())
    db.session.commit()
    sale_id, item_id = sale.id, item.id
    _race(pg_app, 2, lambda i: presale.allocate(sale_id, clock.now()))
    db.session.expire_all()
    level = db.session.get(StockLevel, item_id)
    assert (level.received, level.sold, level.reserved) == (5, 5, 0)
    assert db.session.scalar(select(func.count()).select_from(Reservation)) == 5
    ready = db.session.scalars(select(Order.queue_position).where(Order.status == "ready")
                               .order_by(Order.queue_position)).all()
    assert ready == [1, 2, 3, 4, 5]  # first come, first served
    assert _audit_clean()


@pytest.fixture
def shortfall(pg_app, clock):
    """Three pre-orders at 1,000 points; one unit arrives on the ship date."""
    item, sale = _presale(clock, cap=5)
    cheaper = make_item(clock.now(), name="Handheld", points=600, stock=3)
    dearer = make_item(clock.now(), name="Console Pro", points=1400, stock=3)
    set_substitutes(item.id, [cheaper.id, dearer.id], actor_id=None, now=clock.now())
    members = _members(clock, 3)
    orders = [presale.preorder(m.id, sale.id, LineRequest(item.id, item.plans[0].id, 1), key=f"s{n}",
                               now=clock.now(), points_per_unit=100) for n, m in enumerate(members)]
    receive_stock(item.id, 1, reference="PO-partial", reason="received", now=clock.now())
    outcome = presale.allocate(sale.id, clock.now())
    db.session.commit()
    return {"item": item, "cheaper": cheaper, "dearer": dearer, "members": members, "orders": orders,
            "outcome": outcome}


def _balance(member):
    db.session.expire_all()
    return db.session.get(PointsAccount, member.id).balance


def _stock(item):
    db.session.expire_all()
    level = db.session.get(StockLevel, item.id)
    return level.received, level.reserved, level.sold


def test_a_partial_receipt_serves_the_first_and_offers_the_rest(shortfall):
    assert shortfall["outcome"] == {"served": 1, "offered": 2, "refunded": 0}
    statuses = [db.session.get(Order, o.id).status for o in shortfall["orders"]]
    assert statuses == ["ready", "offered", "offered"]
    assert _stock(shortfall["item"]) == (1, 0, 1)
    offered = db.session.get(Order, shortfall["orders"][1].id)
    assert offered.offer_deadline is not None
    assert [b.balance for b in map(lambda m: db.session.get(PointsAccount, m.id), shortfall["members"])] == [4000] * 3
    assert _audit_clean()


def test_accepting_a_cheaper_substitute_refunds_the_surplus_points(shortfall, clock):
    member, order = shortfall["members"][1], shortfall["orders"][1]
    presale.accept_substitute(order.id, member.id, shortfall["cheaper"].id, now=clock.now())
    db.session.commit()
    assert _balance(member) == 5000 - 600
    order = db.session.get(Order, order.id)
    assert order.status == "ready" and order.points_total == 600 and order.lines[0].item_name == "Handheld"
    assert _stock(shortfall["cheaper"]) == (3, 0, 1)
    assert _stock(shortfall["item"]) == (1, 0, 1)  # the pre-ordered item's unit stays with the first member
    # a second tap on the same choice changes nothing
    presale.accept_substitute(order.id, member.id, shortfall["cheaper"].id, now=clock.now())
    db.session.commit()
    assert _balance(member) == 5000 - 600 and _stock(shortfall["cheaper"]) == (3, 0, 1)
    assert _audit_clean()


def test_a_dearer_substitute_asks_for_a_top_up_then_takes_it(shortfall, clock):
    member, order = shortfall["members"][2], shortfall["orders"][2]
    with pytest.raises(presale.TopUpNeeded) as needed:
        presale.accept_substitute(order.id, member.id, shortfall["dearer"].id, now=clock.now())
    assert needed.value.points == 400
    db.session.rollback()
    assert _balance(member) == 4000
    presale.accept_substitute(order.id, member.id, shortfall["dearer"].id, now=clock.now(), confirm_top_up=True)
    db.session.commit()
    assert _balance(member) == 5000 - 1400
    assert db.session.get(Order, order.id).points_total == 1400
    assert _stock(shortfall["dearer"]) == (3, 0, 1)
    assert _audit_clean()


def test_declining_refunds_in_full_and_an_expired_offer_refunds_by_itself(shortfall, clock, pg_app):
    first, second = shortfall["members"][1], shortfall["members"][2]
    presale.decline_offer(shortfall["orders"][1].id, first.id, clock.now())
    db.session.commit()
    assert _balance(first) == 5000
    clock.advance(hours=49)
    result = pg_app.test_cli_runner().invoke(args=["mall", "jobs"])
    assert "1 expired and refunded" in result.output
    assert _balance(second) == 5000
    assert [db.session.get(Order, o.id).status for o in shortfall["orders"]] == ["ready", "refunded", "refunded"]
    # refunds take no stock: only the first member's unit is sold, the substitutes are untouched
    assert _stock(shortfall["item"]) == (1, 0, 1)
    assert _stock(shortfall["cheaper"]) == (3, 0, 0) and _stock(shortfall["dearer"]) == (3, 0, 0)
    assert _audit_clean()


def test_a_shortfall_with_no_substitute_in_stock_is_refunded_at_once(pg_app, clock):
    item, sale = _presale(clock, cap=5)
    members = _members(clock, 2)
    for n, m in enumerate(members):
        presale.preorder(m.id, sale.id, LineRequest(item.id, item.plans[0].id, 1), key=f"n{n}",
                         now=clock.now(), points_per_unit=100)
    receive_stock(item.id, 1, reference="PO-1", reason="received", now=clock.now())
    assert presale.allocate(sale.id, clock.now()) == {"served": 1, "offered": 0, "refunded": 1}
    db.session.commit()
    assert _balance(members[0]) == 4000 and _balance(members[1]) == 5000
    assert db.session.get(Order, 2).status == "refunded"
    assert presale.allocate(sale.id, clock.now()) == {"served": 0, "offered": 0, "refunded": 0}  # idempotent
    assert _audit_clean()


def test_allocation_waits_for_the_ship_date_before_offering_and_mall_jobs_runs_it(pg_app, clock):
    item, sale = _presale(clock, cap=5, ships_in_days=3)
    cheaper = make_item(clock.now(), name="Handheld", points=600, stock=3)
    other = make_item(clock.now(), name="Lamp", points=700, stock=3)
    set_substitutes(item.id, [cheaper.id, other.id], actor_id=None, now=clock.now())
    members = _members(clock, 2)
    for n, m in enumerate(members):
        presale.preorder(m.id, sale.id, LineRequest(item.id, item.plans[0].id, 1), key=f"w{n}",
                         now=clock.now(), points_per_unit=100)
    receive_stock(item.id, 1, reference="PO-1", reason="received", now=clock.now())
    db.session.commit()
    runner = pg_app.test_cli_runner()
    assert "1 served, 0 offered" in runner.invoke(args=["mall", "jobs"]).output
    assert [o.status for o in presale.queue(sale.id)] == ["ready", "preordered"]  # still waiting
    clock.advance(days=3)
    assert "0 served, 1 offered" in runner.invoke(args=["mall", "jobs"]).output
    db.session.expire_all()
    assert [o.status for o in presale.queue(sale.id)] == ["ready", "offered"]
    assert _audit_clean()


def test_a_preorder_respects_the_per_member_limit(pg_app, clock):
    from mall.checkout.orders import LimitReached
    item, sale = _presale(clock, cap=10)
    item.per_member_limit = 2
    member = _members(clock, 1)[0]
    presale.preorder(member.id, sale.id, LineRequest(item.id, item.plans[0].id, 2), key="a", now=clock.now(),
                     points_per_unit=100)
    db.session.commit()
    with pytest.raises(LimitReached):
        presale.preorder(member.id, sale.id, LineRequest(item.id, item.plans[0].id, 1), key="b", now=clock.now(),
                         points_per_unit=100)
    db.session.rollback()
    assert db.session.get(type(sale), sale.id).taken == 2


def test_a_cap_below_the_places_taken_is_refused(pg_app, clock):
    from mall.catalog.management import InvalidItem
    item, sale = _presale(clock, cap=3)
    member = _members(clock, 1)[0]
    presale.preorder(member.id, sale.id, LineRequest(item.id, item.plans[0].id, 2), key="x", now=clock.now(),
                     points_per_unit=100)
    with pytest.raises(InvalidItem, match="already taken"):
        presale.save_presale(item.id, opens_at=sale.opens_at, closes_at=sale.closes_at, cap=1,
                             ships_on=sale.ships_on, offer_hours=48, now=clock.now())


def test_two_submits_of_one_pre_order_at_once_make_one_order_and_take_one_place(pg_app, clock):
    item, sale = _presale(clock, cap=5)
    member_id = _members(clock, 1)[0].id
    db.session.commit()
    plan_id, sale_id, item_id = item.plans[0].id, sale.id, item.id
    outcomes = race(pg_app, 2, lambda i: presale.preorder(member_id, sale_id, LineRequest(item_id, plan_id, 2),
                                                          key="double-tap", now=clock.now(),
                                                          points_per_unit=100).id, returns=True)
    db.session.expire_all()
    order_id = db.session.scalar(select(Order.id))
    assert outcomes == [order_id, order_id]  # both answered with the one order, no 500
    assert db.session.scalar(select(func.count()).select_from(Order)) == 1
    assert db.session.get(type(sale), sale_id).taken == 2
    assert db.session.get(PointsAccount, member_id).balance == 3000
    assert _audit_clean()


def test_a_buy_of_units_the_queue_waits_for_is_refused_on_postgresql_and_writes_nothing(pg_app, clock):
    from tests.factories import PASSWORD
    item, sale = _presale(clock, cap=5, ships_in_days=10)
    first = _members(clock, 1)[0]
    buyer = make_user(clock.now(), login="pg-buyer@example.com")
    give_points(buyer.id, 5000, clock.now())
    presale.preorder(first.id, sale.id, LineRequest(item.id, item.plans[0].id, 3), key="head", now=clock.now(),
                     points_per_unit=100)
    clock.advance(days=8)  # window closed, ship date ahead
    receive_stock(item.id, 2, reference="PO-1", reason="received", now=clock.now())  # the job hasn't run yet
    db.session.commit()
    client = pg_app.test_client()
    client.post("/login", data={"identifier": "pg-buyer@example.com", "password": PASSWORD})
    refused = client.post(f"/catalog/{item.id}/buy", data={"plan_id": item.plans[0].id, "quantity": 2, "key": "b"})
    assert refused.status_code == 422
    assert "This item is reserved for pre-orders right now." in refused.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Order)) == 1
    assert _balance(buyer) == 5000
    assert _stock(item) == (2, 0, 0)


def test_a_presale_opened_after_the_item_was_cached_for_checkout_refuses_the_next_buy(pg_app, clock):
    from mall.catalog.cache import VERSION_KEY, catalog_cache
    from tests.factories import PASSWORD
    make_tiers()
    item = make_item(clock.now(), name="Console", stock=5)
    buyer = make_user(clock.now(), login="cached-buyer@example.com")
    give_points(buyer.id, 5000, clock.now())
    db.session.commit()
    item_id, plan_id, buyer_id = item.id, item.plans[0].id, buyer.id
    client = pg_app.test_client()
    client.post("/login", data={"identifier": "cached-buyer@example.com", "password": PASSWORD})
    form = {"plan_id": plan_id, "quantity": 1}
    for key in ("warm", "warm-2"):  # the first starts the catalogue's version, the second caches the item
        db.session.remove()  # each request of a real server starts with an empty session
        assert client.post(f"/catalog/{item_id}/buy", data={**form, "key": key}).status_code == 302
    sale_id = presale.save_presale(item_id, opens_at=clock.now() - timedelta(hours=1),
                                   closes_at=clock.now() + timedelta(days=7), cap=5, ships_on=clock.now().date(),
                                   offer_hours=48, now=clock.now()).id
    db.session.commit()
    db.session.remove()
    refused = client.post(f"/catalog/{item_id}/buy", data={**form, "key": "after"})
    assert refused.status_code == 422
    assert "This item is reserved for pre-orders right now." in refused.get_data(as_text=True)
    # A pre-order's place (a Core UPDATE of `taken`) leaves the catalogue's cached copies be.
    version = catalog_cache().client.get(VERSION_KEY)
    presale.preorder(buyer_id, sale_id, LineRequest(item_id, plan_id, 1), key="pre", now=clock.now(),
                     points_per_unit=100)
    db.session.commit()
    assert catalog_cache().client.get(VERSION_KEY) == version
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Order)) == 3
