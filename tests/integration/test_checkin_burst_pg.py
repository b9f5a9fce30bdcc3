"""Queued check-ins (MALL_CHECKIN_MODE=queue) on real PostgreSQL and Redis: answered from
Redis, credited by the queue in batches, exactly once — the same member twice, on two app
nodes, and after Redis lost its data mid-day."""
import pytest
from sqlalchemy import event, func, select

from mall import create_app, rawsql, settings, shoptime
from mall.accounts.models import User
from mall.budgets.models import BudgetMonth, DiscretionaryGrant
from mall.budgets.services import set_programme_budget
from mall.hq.models import HqAlert
from mall.audit import run_audit
from mall.config import TestConfig
from mall.engagement import burst
from mall.engagement.models import Checkin
from mall.extensions import db
from mall.points.models import LedgerEntry, PointsAccount
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


# --- the batch ledger credit (engagement.checkin_credit) ------------------------------------

def _members(n, now, prefix="b"):
    """n members by one bulk insert (hashing n passwords would take longer than the test)."""
    db.session.connection().execute(User.__table__.insert(), [
        dict(email=f"{prefix}{i}@batch.example.com", password_hash="-", display_name=f"B{i}",
             member_code=f"{prefix.upper()}{i:07d}", role="member", locale="en", created_at=now) for i in range(n)])
    ids = list(db.session.scalars(select(User.id).where(User.email.like(f"{prefix}%@batch.example.com"))
                                  .order_by(User.id)))
    db.session.commit()
    return ids


def _counted(fn):
    seen = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)
    def record_raw(statement, parameters):  # prepared SQL strings (mall/rawsql.py) skip the engine
        seen.append(statement)
    event.listen(db.engine, "before_cursor_execute", record)
    rawsql.observers.append(record_raw)
    try:
        result = fn()
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
        rawsql.observers.remove(record_raw)
    return result, seen


def _rows(ids, at):
    day = shoptime.local_day(at, settings.current().timezone)
    return [(m, day, at) for m in ids]


def test_a_batch_of_500_check_ins_is_credited_once_in_a_bounded_number_of_statements(queued, clock):
    ids = _members(505, clock.now())
    rewards = settings.current().tasks
    burst.credit_batch(_rows(ids[:1], clock.now()), rewards=rewards)   # the budget's first use creates it
    db.session.commit()
    few, few_seen = _counted(lambda: burst.credit_batch(_rows(ids[1:5], clock.now()), rewards=rewards))
    db.session.commit()
    many, seen = _counted(lambda: burst.credit_batch(_rows(ids[5:], clock.now()), rewards=rewards))
    db.session.commit()
    print(f"\n{len(seen)} statements for 500 check-ins ({len(few_seen)} for 5):\n" + "\n".join(s[:90] for s in seen))
    assert (few, many) == (4, 500)
    # Whatever the batch size (the single path: ~21 per check-in): 2 for the check-in rows,
    # 17 to credit them (15 when the members already have points accounts).
    assert len(seen) == len(few_seen) <= 19
    again, replay_seen = _counted(lambda: burst.credit_batch(_rows(ids, clock.now()), rewards=rewards))
    db.session.commit()
    assert again == 0 and len(replay_seen) <= 3  # the check-ins are there: nothing is credited twice
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry)) == 505
    assert db.session.scalar(select(func.sum(PointsAccount.balance))) == 505 * 5
    assert db.session.scalar(select(func.sum(BudgetMonth.used_points))) == 505 * 5
    assert _audit_ok()


def test_500_queued_check_ins_reach_the_ledger_once_through_the_queue(queued, clock):
    ids = _members(500, clock.now())
    assert all(_check_in(queued, m, clock.now()).new for m in ids)
    assert _credit(queued, clock.now()) == 500
    assert _credit(queued, clock.now()) == 0
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry)) == 500
    assert db.session.scalar(select(func.count()).select_from(Checkin).where(Checkin.points == 5)) == 500
    assert _audit_ok()


def test_two_workers_draining_at_once_credit_each_check_in_once(queued, clock):
    ids = _members(400, clock.now())
    for m in ids[:200]:
        _check_in(queued, m, clock.now())
    cfg = settings.current()
    drained = race(queued, 2, lambda i: burst.credit_pending(queued.extensions["mall.redis"], clock.now(),
                                                             zone=cfg.timezone, rewards=cfg.tasks, batch=50),
                   returns=True)
    assert sum(drained) == 200, drained
    # The same entries handed to both (a worker taken for dead whose batch is reclaimed): the
    # UNIQUE(member, day) makes the second insert nothing, so it credits nothing.
    rows = _rows(ids[200:], clock.now())
    both = race(queued, 2, lambda i: burst.credit_batch(rows, rewards=cfg.tasks), returns=True)
    assert sorted(both) == [0, 200], both
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry)) == 400
    assert db.session.scalar(select(func.count(func.distinct(LedgerEntry.idempotency_key)))) == 400
    assert db.session.scalar(select(func.sum(PointsAccount.balance))) == 400 * 5
    assert _audit_ok()


@pytest.mark.parametrize("setting", ("hold", "refuse"))
def test_a_budget_used_up_mid_batch_credits_what_fits_and_holds_or_refuses_the_rest(queued, clock, setting):
    boss = make_user(clock.now(), role="hq")
    set_programme_budget("task", "checkin", "Check-in", 1000, setting, actor_id=boss.id, now=clock.now())
    db.session.commit()
    ids = _members(250, clock.now())
    assert burst.credit_batch(_rows(ids, clock.now()), rewards=settings.current().tasks) == 250
    db.session.commit()
    credited = [m for m, in db.session.execute(select(LedgerEntry.member_id).order_by(LedgerEntry.member_id))]
    assert credited == ids[:200]                 # in order: the first 200 fit the 1,000 points
    held = db.session.scalars(select(DiscretionaryGrant.member_id).where(DiscretionaryGrant.status == "held")).all()
    assert sorted(held) == (ids[200:] if setting == "hold" else [])
    month = db.session.scalar(select(BudgetMonth))
    assert (month.used_points, month.limit_points) == (1000, 1000) and month.exhausted_at is not None
    assert db.session.scalar(select(func.count()).select_from(HqAlert)) == 2   # 80 % and 100 %, once each
    assert _audit_ok()
