"""Checkout under concurrency on real PostgreSQL and Redis."""
import shutil
import socket
import subprocess
import time

import pytest
from sqlalchemy import func, select

from mall.checkout import orders as order_service
from mall.checkout.models import Order
from mall.checkout.quotes import LineRequest
from mall.errors import InsufficientPoints, LockUnavailable
from mall.extensions import db
from mall.inventory.models import StockLevel
from mall.inventory.reservations import OutOfStock
from mall.audit import run_audit
from mall.points.models import LedgerEntry, PointsAccount
from tests.factories import PASSWORD, give_points, make_item, make_tiers, make_user
from tests.concurrency import race
from tests.services import unavailable

ARGS = dict(hold_minutes=10, card_payments=False, points_per_unit=100)


def _race(app, n, work):
    return race(app, n, work, refusals=(OutOfStock, InsufficientPoints, LockUnavailable))


def _audit_clean():
    return [f for f in run_audit() if f.violations] == []


def test_fifty_buyers_of_the_last_ten_units_make_exactly_ten_orders(pg_app, clock):
    make_tiers()
    item = make_item(clock.now(), points=100, stock=10)
    members = [make_user(clock.now()) for _ in range(50)]
    for m in members:
        give_points(m.id, 1000, clock.now())
    db.session.commit()
    plan_id, item_id, ids = item.plans[0].id, item.id, [m.id for m in members]

    outcomes = _race(pg_app, 50, lambda i: order_service.place_order(
        ids[i], [LineRequest(item_id, plan_id, 1)], key=f"k{i}", now=clock.now(), **ARGS))

    db.session.expire_all()
    assert outcomes.count("ok") == 10
    assert set(outcomes) <= {"ok", "OutOfStock"}
    assert db.session.scalar(select(func.count()).select_from(Order)) == 10
    level = db.session.get(StockLevel, item_id)
    assert (level.received, level.reserved, level.sold) == (10, 0, 10)
    assert _audit_clean()


def test_five_concurrent_300_point_orders_on_1000_points_at_most_three_succeed(pg_app, clock):
    make_tiers()
    member = make_user(clock.now())
    give_points(member.id, 1000, clock.now())
    items = [make_item(clock.now(), points=300, stock=5) for _ in range(5)]
    db.session.commit()
    member_id, lines = member.id, [(i.id, i.plans[0].id) for i in items]

    outcomes = _race(pg_app, 5, lambda i: order_service.place_order(
        member_id, [LineRequest(*lines[i], 1)], key=f"o{i}", now=clock.now(), **ARGS))

    db.session.expire_all()
    assert outcomes.count("ok") == 3
    assert db.session.get(PointsAccount, member_id).balance == 100
    assert db.session.scalar(select(func.min(LedgerEntry.balance_after))) >= 0
    assert _audit_clean()


def test_an_expired_reservation_releases_its_stock_through_the_jobs_command(pg_app, clock):
    make_tiers()
    member = make_user(clock.now())
    give_points(member.id, 5000, clock.now())
    item = make_item(clock.now(), points=2000, stock=1, plans=[("points_cash", 1000, 990, None)])
    order = order_service.place_order(member.id, [LineRequest(item.id, item.plans[1].id, 1)], key="e",
                                      now=clock.now(), **ARGS)
    db.session.commit()
    clock.advance(minutes=11)
    result = pg_app.test_cli_runner().invoke(args=["mall", "jobs"])
    assert "1 expired holds released" in result.output
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == "expired"
    level = db.session.get(StockLevel, item.id)
    assert (level.reserved, level.sold) == (0, 0)
    assert db.session.get(PointsAccount, member.id).balance == 5000
    assert _audit_clean()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def own_redis():
    """A Redis server of this test's own, so that it can be stopped mid-test."""
    binary = shutil.which("redis-server")
    if binary is None:
        unavailable("redis-server is not installed")
    port = _free_port()
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL)
    for _ in range(50):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    yield proc, f"redis://127.0.0.1:{port}/0"
    proc.kill()
    proc.wait()


def test_redis_stopped_during_checkout_gives_a_clear_refusal_and_writes_nothing(pg_schema, clock, own_redis):
    from mall import create_app
    from mall.config import TestConfig
    proc, url = own_redis

    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = pg_schema
        REDIS_URL = url

    app = create_app(Config, clock=clock)
    with app.app_context():
        try:
            make_tiers()
            member = make_user(clock.now(), login="redis@example.com")
            give_points(member.id, 5000, clock.now())
            item = make_item(clock.now(), points=1000, stock=3)
            db.session.commit()
            client = app.test_client()
            client.post("/login", data={"identifier": "redis@example.com", "password": PASSWORD})
            ok = client.post(f"/catalog/{item.id}/buy", data={"plan_id": item.plans[0].id, "quantity": 1, "key": "a"})
            assert ok.status_code == 302

            proc.kill()
            proc.wait()
            refused = client.post(f"/catalog/{item.id}/buy", data={"plan_id": item.plans[0].id, "quantity": 1, "key": "b"})
            assert refused.status_code == 503
            assert "Nothing was changed" in refused.get_data(as_text=True)
            db.session.expire_all()
            assert db.session.scalar(select(func.count()).select_from(Order)) == 1
            level = db.session.get(StockLevel, item.id)
            assert (level.reserved, level.sold) == (0, 1)
            assert db.session.get(PointsAccount, member.id).balance == 4000
            assert _audit_clean()
        finally:
            db.session.remove()
            from sqlalchemy import text
            tables = ", ".join(t.name for t in db.metadata.sorted_tables)
            with db.engine.begin() as conn:
                conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            db.engine.dispose()
