"""Checkout's short catalogue cache (mall/catalog/cache.py, issue 15) on PostgreSQL and a
shared Redis: two app nodes, each with its own copies. A console edit on one node is what
the next checkout on the other charges; a warm checkout reads no item row; a copy whose
version can't be checked is not used; a lost version increment heals within the TTL."""
import pytest
import redis
from sqlalchemy import event, select, text, update

from mall import create_app
from mall.catalog import cache as catalog_cache
from mall.catalog.models import Item
from mall.checkout.models import Order
from mall.config import TestConfig
from mall.extensions import db
from tests.conftest import isolate_requests
from tests.factories import PASSWORD, give_points, make_item, make_tiers, make_user

pytestmark = pytest.mark.postgres


@pytest.fixture
def other_node(pg_app, clock):
    """A second app on the same PostgreSQL and Redis: another worker or node."""
    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = pg_app.config["SQLALCHEMY_DATABASE_URI"]
        REDIS_URL = pg_app.config["REDIS_URL"]
    node = create_app(Config, clock=clock)
    isolate_requests(node)
    yield node
    with node.app_context():
        db.engine.dispose()


@pytest.fixture
def shop(pg_app, clock):
    tiers = make_tiers()
    member = make_user(clock.now(), login="buyer@example.com")
    give_points(member.id, 50_000, clock.now())
    make_user(clock.now(), role="merchandiser", login="merch@example.com")
    item = make_item(clock.now(), points=1000, stock=50)
    db.session.commit()
    return tiers, item.id, item.plans[0].id


def _client(app, login):
    client = app.test_client()
    assert client.post("/login", data={"identifier": login, "password": PASSWORD}).status_code == 302
    return client


def _buy(client, item_id, plan_id, key):
    response = client.post(f"/catalog/{item_id}/buy", data={"plan_id": plan_id, "quantity": 1, "key": key})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    db.session.expire_all()
    return db.session.scalar(select(Order).where(Order.idempotency_key == key))


def _edit(client, item_id, tiers, **changes):
    item = db.session.get(Item, item_id)
    form = {"sku": item.sku, "name": item.name, "name_zh": item.name_zh or "", "description": item.description,
            "category_id": str(item.category_id), "min_tier_id": "0", "points_price": str(item.points_price),
            "per_member_limit": "", "kind": item.kind, "plans-0-kind": "points", "plans-1-kind": ""}
    form.update(changes)
    response = client.post(f"/console/items/{item_id}", data=form)
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    db.session.expire_all()


def _copies(app) -> int:
    return len(app.extensions[catalog_cache.EXTENSION]._entries)


def test_a_console_edit_on_one_node_is_charged_by_the_next_checkout_on_another(pg_app, other_node, shop):
    tiers, item_id, plan_id = shop
    buyer, merch = _client(other_node, "buyer@example.com"), _client(pg_app, "merch@example.com")
    assert _buy(buyer, item_id, plan_id, "before").points_total == 1000
    assert _buy(buyer, item_id, plan_id, "cached").points_total == 1000
    assert _copies(other_node) == 1  # the item is cached on the buyer's node

    _edit(merch, item_id, tiers, points_price="700")  # the list price, on the other node
    assert _buy(buyer, item_id, plan_id, "list price").points_total == 700

    silver = tiers["silver"]  # the buyer's tier: a tier price now applies to them
    _edit(merch, item_id, tiers, points_price="700", **{f"tier_price_{silver.id}": "600"})
    assert _buy(buyer, item_id, plan_id, "tier price").points_total == 600

    # The plan itself edited (the console keeps its row): points and cash from now on.
    _edit(merch, item_id, tiers, **{"plans-0-kind": "points_cash", "plans-0-points": "300", "plans-0-cash": "5.00"})
    order = _buy(buyer, item_id, plan_id, "plan edited")
    assert (order.points_total, order.cash_total_minor) == (300, 500)


def test_unpublishing_is_seen_at_once_by_every_node(pg_app, other_node, shop):
    _tiers, item_id, plan_id = shop
    buyer, merch = _client(other_node, "buyer@example.com"), _client(pg_app, "merch@example.com")
    _buy(buyer, item_id, plan_id, "first")
    merch.post(f"/console/items/{item_id}/publish", data={})  # the form without its box: unpublish
    db.session.expire_all()
    assert not db.session.get(Item, item_id).published
    assert buyer.post(f"/catalog/{item_id}/buy", data={"plan_id": plan_id, "quantity": 1, "key": "gone"}).status_code == 404


def test_a_warm_checkout_reads_no_item_row(pg_app, shop):
    _tiers, item_id, plan_id = shop
    buyer = _client(pg_app, "buyer@example.com")
    _buy(buyer, item_id, plan_id, "warm-up")
    db.session.remove()
    seen = []

    def record(conn, cursor, statement, *args):
        seen.append(" ".join(statement.split()))
    event.listen(db.engine, "before_cursor_execute", record)
    try:
        order = _buy(buyer, item_id, plan_id, "warm")
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert order.points_total == 1000
    assert seen and not [s for s in seen if " FROM items" in s or "JOIN price_plans" in s], seen


def test_a_copy_whose_version_cannot_be_read_is_not_used(pg_app, shop, monkeypatch):
    _tiers, item_id, plan_id = shop
    buyer = _client(pg_app, "buyer@example.com")
    _buy(buyer, item_id, plan_id, "cached")
    # A change the version never heard of (raw SQL, as a lost increment would leave it)...
    db.session.execute(text("UPDATE items SET points_price = 400 WHERE id = :id"), {"id": item_id})
    db.session.commit()
    cache = pg_app.extensions[catalog_cache.EXTENSION]

    def down(*args, **kwargs):
        raise redis.ConnectionError("Redis is down")
    monkeypatch.setattr(cache.client, "get", down)
    # ...is still charged when Redis can't say which version is current: no copy is used.
    assert cache.get(Item, item_id, lambda: db.session.get(Item, item_id)).points_price == 400
    db.session.remove()
    monkeypatch.undo()
    # Redis answers again: the copy is still the current version's, until its seconds run out.
    db.session.remove()
    assert cache.get(Item, item_id, lambda: db.session.get(Item, item_id)).points_price == 1000
    db.session.remove()
    clock = catalog_cache.time.monotonic() + cache.seconds + 1
    monkeypatch.setattr(catalog_cache.time, "monotonic", lambda: clock)
    assert _buy(buyer, item_id, plan_id, "after ttl").points_total == 400


def test_an_edit_rolled_back_keeps_the_version_and_one_committed_moves_it(pg_app, shop):
    _tiers, item_id, _plan_id = shop
    client = pg_app.extensions["mall.redis"]
    start = client.get(catalog_cache.VERSION_KEY)
    db.session.get(Item, item_id).points_price = 1
    db.session.flush()
    db.session.rollback()
    assert client.get(catalog_cache.VERSION_KEY) == start
    db.session.get(Item, item_id).points_price = 2
    db.session.commit()
    moved = client.get(catalog_cache.VERSION_KEY)
    assert moved not in (None, start)
    db.session.execute(update(Item).where(Item.id == item_id).values(points_price=3))  # no flush: a statement
    db.session.commit()
    assert client.get(catalog_cache.VERSION_KEY) not in (None, start, moved)
