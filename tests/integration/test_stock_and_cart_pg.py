"""Stock counts at the INTEGER column's limit and the cart under double taps, on PostgreSQL:
a refusal with a message and nothing written, never a 500 (DataError, IntegrityError)."""
import io

from sqlalchemy import delete, func, select

from mall.checkout.models import CartLine
from mall.extensions import db
from mall.inventory.models import StockLevel, StockMovement
from tests.concurrency import race
from tests.factories import PASSWORD, give_points, make_category, make_item, make_tiers, make_user

MAX_INT = 2**31 - 1


def _merch_client(app, clock):
    make_user(clock.now(), role="merchandiser", login="merch-pg@example.com")
    db.session.commit()
    client = app.test_client()
    assert client.post("/login", data={"identifier": "merch-pg@example.com", "password": PASSWORD}).status_code == 302
    return client


def _movements(item_id):
    return db.session.scalar(select(func.count()).select_from(StockMovement).where(StockMovement.item_id == item_id))


def test_receiving_or_adjusting_past_the_column_limit_is_refused_on_postgresql(pg_app, clock):
    make_tiers()
    item = make_item(clock.now(), stock=10)
    db.session.commit()
    client, before = _merch_client(pg_app, clock), _movements(item.id)
    for form in ({"action": "receive", "receive-quantity": str(MAX_INT), "receive-reference": "PO-9"},
                 {"action": "adjust", "adjust-change": str(MAX_INT), "adjust-reason": "count"}):
        response = client.post(f"/console/items/{item.id}/stock", data=form)
        assert response.status_code == 422, form
        assert f"That would take the stock past {MAX_INT} units" in response.get_data(as_text=True)
    db.session.rollback()
    assert db.session.get(StockLevel, item.id).received == 10
    assert _movements(item.id) == before
    # Up to the limit is fine: the check is on the result, not a smaller cap.
    ok = client.post(f"/console/items/{item.id}/stock", data={
        "action": "receive", "receive-quantity": str(MAX_INT - 10), "receive-reference": "PO-10"})
    assert ok.status_code == 302
    db.session.rollback()
    assert db.session.get(StockLevel, item.id).received == MAX_INT


def test_a_csv_row_receiving_past_the_column_limit_is_refused_and_nothing_is_imported_on_postgresql(pg_app, clock):
    make_tiers()
    make_category("home", "Home")
    item = make_item(clock.now(), stock=10)
    db.session.commit()
    client, before = _merch_client(pg_app, clock), _movements(item.id)
    text = ("sku,name,category,points_price,published,receive\n"
            "PG-NEW,Kettle,home,100,yes,5\n"
            f"{item.sku},Mug,home,100,yes,{MAX_INT}\n")
    response = client.post("/console/import", data={"file": (io.BytesIO(text.encode()), "stock.csv")},
                           content_type="multipart/form-data")
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f"That would take the stock past {MAX_INT} units" in body and "<code>receive</code>" in body
    db.session.rollback()
    assert db.session.get(StockLevel, item.id).received == 10
    assert _movements(item.id) == before
    assert db.session.scalar(select(func.count()).where(StockLevel.received > 10)) == 0


def _member_clients(app, clock, n):
    member = make_user(clock.now(), login="cart-pg@example.com")
    give_points(member.id, 100_000, clock.now())
    db.session.commit()
    clients = [app.test_client() for _ in range(n)]
    for c in clients:
        assert c.post("/login", data={"identifier": "cart-pg@example.com", "password": PASSWORD}).status_code == 302
    return clients


def test_two_taps_adding_one_item_at_once_never_fail_and_count_once_per_submit_on_postgresql(pg_app, clock):
    make_tiers()
    item = make_item(clock.now(), points=100, stock=50)
    db.session.commit()
    clients, item_id, plan_id = _member_clients(pg_app, clock, 2), item.id, item.plans[0].id

    for round_ in range(4):
        same_key = round_ % 2 == 0  # a double tap on one form, or two tabs' forms

        def tap(i):
            key = f"r{round_}" if same_key else f"r{round_}-{i}"
            return clients[i].post(f"/catalog/{item_id}/cart",
                                   data={"plan_id": plan_id, "quantity": 1, "key": key}).status_code

        statuses = race(pg_app, 2, tap, returns=True)
        assert statuses == [302, 302], (round_, statuses)
        db.session.rollback()
        assert db.session.scalar(select(CartLine.quantity)) == (1 if same_key else 2), round_
        db.session.execute(delete(CartLine))
        db.session.commit()
