"""Queued check-ins (MALL_CHECKIN_MODE=queue) on real PostgreSQL and Redis: answered from
Redis, credited by the queue in batches, exactly once — the same member twice, on two app
nodes, and after Redis lost its data mid-day."""
import pytest
from sqlalchemy import func, select

from mall import create_app, settings
from mall.audit import run_audit
from mall.config import TestConfig
from mall.engagement import burst
from mall.engagement.models import Checkin
from mall.extensions import db
from mall.points.models import LedgerEntry
from tests.concurrency import race
from tests.factories import PASSWORD, make_tiers, make_user
from tests.services import redis_url


@pytest.fixture
def queued(pg_app):
    pg_app.config.update(MALL_CHECKIN_MODE="queue")
    settings.reload(pg_app)
    make_tiers()
    db.session.commit()
    return pg_app


def _check_in(app, member_id, at):
    cfg = settings.current()
    return burst.check_in_queued(app.extensions["mall.redis"], member_id, at, zone=cfg.timezone, rewards=cfg.tasks)


def _credit(app, at):
    cfg = settings.current()
    credited = burst.credit_pending(app.extensions["mall.redis"], at, zone=cfg.timezone, rewards=cfg.tasks)
    db.session.commit()
    return credited


def _task_points(member_id):
    db.session.expire_all()
    return db.session.scalar(select(func.coalesce(func.sum(LedgerEntry.points), 0)).where(
        LedgerEntry.member_id == member_id, LedgerEntry.source == "task"))


def _audit_ok():
    return not [f for f in run_audit() if f.violations]


def test_a_queued_check_in_is_answered_at_once_and_credited_once_by_the_queue(queued, clock):
    member_id = make_user(clock.now()).id
    db.session.commit()
    first, second = _check_in(queued, member_id, clock.now()), _check_in(queued, member_id, clock.now())
    assert (first.new, first.streak, first.points) == (True, 1, 5)
    assert not second.new
    assert _task_points(member_id) == 0          # arriving: nothing in the request
    assert _credit(queued, clock.now()) == 1
    assert _credit(queued, clock.now()) == 0     # acked: nothing read twice
    assert _task_points(member_id) == 5
    assert db.session.scalar(select(Checkin.points).where(Checkin.member_id == member_id)) == 5
    assert _audit_ok()


def test_ten_taps_on_two_app_nodes_check_in_once(queued, clock, pg_schema):
    class Other(TestConfig):
        SQLALCHEMY_DATABASE_URI = pg_schema
        REDIS_URL = redis_url()
        MALL_CHECKIN_MODE = "queue"
    other = create_app(Other, clock=clock)
    member_id = make_user(clock.now()).id
    db.session.commit()

    def tap(i):
        node = queued if i % 2 else other
        with node.app_context():
            return _check_in(node, member_id, clock.now()).new

    assert race(queued, 10, tap, returns=True).count(True) == 1
    _credit(queued, clock.now())
    with other.app_context():
        assert _credit(other, clock.now()) == 0
        db.session.remove()
    assert _task_points(member_id) == 5


def test_redis_flushed_mid_day_tells_the_truth_and_credits_once(queued, clock):
    member_id = make_user(clock.now()).id
    db.session.commit()
    assert _check_in(queued, member_id, clock.now()).new
    _credit(queued, clock.now())
    queued.extensions["mall.redis"].flushdb()     # Redis lost everything (no warm marker)
    again = _check_in(queued, member_id, clock.now())
    assert not again.new and again.streak == 1   # the database said so: nothing queued
    assert _credit(queued, clock.now()) == 0
    assert _task_points(member_id) == 5


def test_a_check_in_redis_forgot_after_a_failover_is_refused_a_second_credit_by_the_database(queued, clock):
    member_id = make_user(clock.now()).id
    db.session.commit()
    client = queued.extensions["mall.redis"]
    burst.reconcile(client, clock.now(), zone=settings.current().timezone)  # warm: hashes are complete
    assert _check_in(queued, member_id, clock.now()).new
    _credit(queued, clock.now())
    client.delete(burst.member_key(member_id))   # the replica promoted never saw this write
    assert _check_in(queued, member_id, clock.now()).new   # Redis can't tell...
    assert _credit(queued, clock.now()) == 0                # ...the UNIQUE(member, day) can
    assert _task_points(member_id) == 5
    assert db.session.scalar(select(func.count()).select_from(Checkin)) == 1
    assert _audit_ok()


def test_the_reconcile_requeues_a_check_in_whose_queue_entry_was_lost(queued, clock):
    member_id = make_user(clock.now()).id
    db.session.commit()
    client = queued.extensions["mall.redis"]
    assert _check_in(queued, member_id, clock.now()).new
    client.delete(burst.stream_key(member_id % burst.SHARDS))   # the entry is gone, the day set is not
    assert _credit(queued, clock.now()) == 0
    assert burst.reconcile(client, clock.now(), zone=settings.current().timezone) == 1
    assert _credit(queued, clock.now()) == 1
    assert burst.reconcile(client, clock.now(), zone=settings.current().timezone) == 0
    assert _task_points(member_id) == 5


def test_the_check_in_page_answers_arriving_from_redis(queued, clock):
    user = make_user(clock.now())
    db.session.commit()
    client = queued.test_client()
    client.post("/login", data={"identifier": user.email, "password": PASSWORD})
    answer = client.post("/tasks/check-in", headers={"HX-Request": "true", "HX-Target": "checkin"})
    assert answer.status_code == 200 and b"arriving" in answer.data
    assert client.post("/tasks/check-in", headers={"HX-Request": "true"}).status_code == 409
    _credit(queued, clock.now())
    assert _task_points(user.id) == 5
