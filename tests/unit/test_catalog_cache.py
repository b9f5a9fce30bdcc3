"""Checkout's short catalogue cache (mall/catalog/cache.py): the item graph without SQL
while the catalogue version stands, a fresh read as soon as any catalogue write commits,
and never a copy when the version can't be read or the request wrote the catalogue itself.
(Across two app nodes on PostgreSQL and Redis: tests/integration/test_catalog_cache_pg.py.)"""
import pytest
import redis
from sqlalchemy import event, select, update

from mall.catalog import cache as catalog_cache
from mall.catalog.models import Item, ItemTierPrice
from mall.checkout.models import Order
from mall.checkout.quotes import item_with_plans
from mall.extensions import db
from tests.factories import PASSWORD, give_points, make_item, make_user


class Versions:
    """The two Redis calls the cache makes, in memory."""

    def __init__(self):
        self.values, self.down, self.sets = {}, False, 0

    def get(self, key):
        if self.down:
            raise redis.ConnectionError("down")
        return self.values.get(key)

    def set(self, key, value, nx=False):
        if not (nx and key in self.values):
            self.values[key] = value.encode()
            self.sets += 1

    def version(self):
        return self.values.get(catalog_cache.VERSION_KEY)


@pytest.fixture
def versions(app):
    versions = Versions()
    app.extensions[catalog_cache.EXTENSION] = catalog_cache.CatalogCache(versions, 5)  # the fixture restores it
    return versions


@pytest.fixture
def item(tiers, clock, versions):
    item = make_item(clock.now(), points=1000, tier_prices={tiers["gold"]: 800},
                     plans=[("points_cash", 300, 500, None)])
    db.session.commit()
    item_id = item.id
    db.session.remove()
    return item_id


@pytest.fixture
def selects():
    seen = []

    def record(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)
    event.listen(db.engine, "before_cursor_execute", record)
    yield seen
    event.remove(db.engine, "before_cursor_execute", record)


def test_a_version_is_never_reused_after_redis_loses_it(item, versions):
    _fresh_read(item)  # the first read starts a version, the second keeps a copy under it
    _fresh_read(item)
    kept = versions.version()
    versions.values.clear()  # Redis restarted empty...
    db.session.execute(update(Item).where(Item.id == item).values(points_price=321))
    db.session.commit()  # ...and an edit moved the version: never back to the old one
    assert versions.version() != kept
    assert _fresh_read(item).points_price == 321


def _fresh_read(item_id):
    db.session.remove()  # each request starts with an empty session
    return item_with_plans(item_id)


def test_a_cached_item_comes_with_its_plans_category_and_tier_prices_and_no_sql(item, selects):
    _fresh_read(item)  # loads and keeps a copy
    db.session.remove()
    selects.clear()
    cached = item_with_plans(item)
    shown = ([(p.kind, p.points, p.cash_minor) for p in cached.plans], cached.category.slug,
             [tp.points for tp in cached.tier_prices], cached.min_tier, cached.coupon_spec, cached.points_price)
    assert shown == ([("points", 0, 0), ("points_cash", 300, 500)], "home", [800], None, None, 1000)
    assert selects == []
    assert not db.session.dirty and not db.session.new  # in the session as read, nothing to write


def test_a_committed_edit_is_read_by_the_next_request(item, versions):
    assert _fresh_read(item).points_price == 1000
    start, sets = versions.version(), versions.sets
    edited = _fresh_read(item)
    edited.points_price, edited.plans[1].points = 700, 250
    db.session.execute(update(ItemTierPrice).where(ItemTierPrice.item_id == item).values(points=650))
    db.session.commit()
    assert versions.version() != start and versions.sets == sets + 1  # one commit, one new version
    again = _fresh_read(item)
    assert (again.points_price, again.plans[1].points, again.tier_prices[0].points) == (700, 250, 650)


def test_an_edit_rolled_back_leaves_the_copy_and_the_version(item, versions):
    _fresh_read(item)
    start = versions.version()
    assert start is not None
    db.session.remove()
    db.session.execute(update(Item).where(Item.id == item).values(points_price=5))
    db.session.expunge_all()
    assert item_with_plans(item).points_price == 5  # the request's own write: read from the database
    db.session.rollback()
    assert versions.version() == start
    assert _fresh_read(item).points_price == 1000


def test_no_copy_is_used_when_the_version_cannot_be_read(item, versions, selects):
    _fresh_read(item)
    versions.down = True
    db.session.remove()
    selects.clear()
    assert item_with_plans(item).points_price == 1000
    assert any("FROM items" in s for s in selects)


def test_a_checkout_charges_the_price_edited_a_moment_before(item, tiers, clock, client, versions):
    member = make_user(clock.now(), login="buyer@example.com")
    give_points(member.id, 10_000, clock.now())
    db.session.commit()
    client.post("/login", data={"identifier": "buyer@example.com", "password": PASSWORD})
    plan_id = _fresh_read(item).plans[0].id

    def buy(key):
        assert client.post(f"/catalog/{item}/buy", data={"plan_id": plan_id, "quantity": 1, "key": key}).status_code == 302
        db.session.remove()
        return db.session.scalar(select(Order.points_total).where(Order.idempotency_key == key))
    assert buy("one") == 1000
    _fresh_read(item).points_price = 900
    db.session.commit()
    assert buy("two") == 900


def test_two_cached_items_of_one_category_price_together(item, tiers, clock, versions):
    other = make_item(clock.now(), points=400)  # the same category ("home") as `item`
    db.session.commit()
    other_id = other.id
    member = make_user(clock.now())
    db.session.commit()
    member_id = member.id
    for item_id in (item, other_id):
        _fresh_read(item_id)  # the first read starts the version (the item's creation moved it)
        _fresh_read(item_id)
    db.session.remove()
    from mall.checkout.quotes import LineRequest, price
    plans = {i: item_with_plans(i).plans[0].id for i in (item, other_id)}  # the second overlaps the first's category
    totals = price(member_id, [LineRequest(item, plans[item]), LineRequest(other_id, plans[other_id], 2)],
                   clock.now(), points_per_unit=100, balance=0)
    assert [l.quote.points for l in totals.lines] == [1000, 800]
    assert item_with_plans(item).category is item_with_plans(other_id).category
    assert not db.session.dirty
