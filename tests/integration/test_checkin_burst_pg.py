"""Queued check-ins (MALL_CHECKIN_MODE=queue) on real PostgreSQL and Redis: answered from
Redis, credited by the queue in batches, exactly once — the same member twice, on two app
nodes, and after Redis lost its data mid-day."""
from datetime import timedelta

import pytest
import redis
from sqlalchemy import event, func, select

from mall import create_app, rawsql, settings, shoptime
from mall.accounts.models import User
from mall.budgets.models import BudgetMonth, DiscretionaryGrant
from mall.budgets.services import set_programme_budget
from mall.hq.models import HqAlert
from mall.audit import run_audit
from mall.config import TestConfig
from mall.engagement import burst, views
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


def _failover(client, member_id, back_to=None):
    """The replica promoted never saw the member's last write (asynchronous replication): their
    hash is back to what it was before (`back_to`) or gone. The shards' warm markers did reach
    it, long ago, but name the old master's replication id: a promoted replica has a new one."""
    key = burst.member_key(member_id)
    client.delete(key)
    if back_to is not None:
        client.hset(key, mapping={"day": back_to[0].isoformat(), "streak": back_to[1]})
    for shard in range(burst.SHARDS):
        if client.exists(burst.warm_key(shard)):
            client.set(burst.warm_key(shard), "0" * 40)


@pytest.mark.parametrize("lost", ("hash", "todays_write"))
def test_a_check_in_redis_forgot_after_a_failover_is_answered_already_from_the_database(queued, clock, lost):
    member_id = make_user(clock.now()).id
    db.session.commit()
    client, zone = queued.extensions["mall.redis"], settings.current().timezone
    yesterday = clock.now() - timedelta(days=1)
    assert _check_in(queued, member_id, yesterday).new
    burst.reconcile(client, clock.now(), zone=zone)  # warm: hashes are complete
    assert _check_in(queued, member_id, clock.now()).new
    _credit(queued, clock.now())
    _failover(client, member_id, back_to=None if lost == "hash" else (shoptime.local_day(yesterday, zone), 1))
    again = _check_in(queued, member_id, clock.now())
    assert (again.new, again.streak) == (False, 2)   # the database knows: not "arriving" again
    assert _check_in(queued, member_id, clock.now()).new is False   # and Redis knows again
    assert _credit(queued, clock.now()) == 0
    assert _task_points(member_id) == 10
    assert db.session.scalar(select(func.count()).select_from(Checkin)) == 2
    assert burst.reconcile(client, clock.now(), zone=zone) == 0      # re-warmed on the new master
    assert not _check_in(queued, member_id, clock.now()).new
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


# --- the synchronous fallback (the check-in script failed) ----------------------------------

class RefusingRedis:
    """Redis refusing the check-in's writes while reads, DEL and the member's lock (another
    client, app_locks) still work: `-OOM` under maxmemory, the outage the synchronous fallback
    is for. Like tests/unit/test_admission.py's DeadRedis, a refused call raises what redis-py
    raises; with reads=False nothing answers (the member's shard has no master)."""

    def __init__(self, real, reads=True, refuse=()):
        self.real, self.reads, self.refuse = real, reads, refuse

    def register_script(self, script):
        def run(**kwargs):
            raise redis.exceptions.OutOfMemoryError("command not allowed when used memory > 'maxmemory'.")
        return run

    def pipeline(self, transaction=True):
        return RefusingPipeline(self, self.real.pipeline(transaction=transaction))

    def __getattr__(self, name):
        if not self.reads:
            raise redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
        if name in self.refuse:
            raise redis.exceptions.ReadOnlyError("You can't write against a read only replica.")
        return getattr(self.real, name)


class RefusingPipeline:
    """The same refusals when the commands go in a pipeline (raised by execute, as redis-py does)."""

    def __init__(self, outage, real):
        self.outage, self.real, self.refused = outage, real, None

    def __getattr__(self, name):
        if not self.outage.reads:
            self.refused = redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
        elif name in self.outage.refuse:
            self.refused = redis.exceptions.ReadOnlyError("You can't write against a read only replica.")
        return getattr(self.real, name)

    def execute(self):
        if self.refused is not None:
            self.real.reset()
            raise self.refused
        return self.real.execute()


class FlakyScriptOnce(RefusingRedis):
    """The tap's script fails once (a timeout, a reset connection); by the commit Redis is fine."""

    def __init__(self, real):
        super().__init__(real)
        self.failed = False

    def register_script(self, script):
        real = self.real.register_script(script)

        def run(**kwargs):
            if not self.failed:
                self.failed = True
                raise redis.TimeoutError("Timeout reading from 127.0.0.1:6379")
            return real(**kwargs)
        return run


def _member_page(app, clock):
    user = make_user(clock.now())
    db.session.commit()
    page = app.test_client()
    page.post("/login", data={"identifier": user.email, "password": PASSWORD})
    return user.id, page


def _tap(page):
    return page.post("/tasks/check-in", headers={"HX-Request": "true", "HX-Target": "checkin"})


@pytest.mark.parametrize("redis_at_commit", ("back", "still_refusing"))
def test_a_check_in_the_database_took_while_redis_refused_is_not_answered_arriving_again(queued, clock, monkeypatch,
                                                                                          redis_at_commit):
    member_id, page = _member_page(queued, clock)
    client, zone = queued.extensions["mall.redis"], settings.current().timezone
    yesterday = clock.now() - timedelta(days=1)
    assert _check_in(queued, member_id, yesterday).new   # Redis holds yesterday, streak 1
    _credit(queued, yesterday)
    burst.reconcile(client, clock.now(), zone=zone)      # not cold: every shard warm
    failing = FlakyScriptOnce(client) if redis_at_commit == "back" else RefusingRedis(client)
    monkeypatch.setattr(views, "app_redis", lambda: failing)
    answer = _tap(page)
    assert answer.status_code == 200 and b"day 2 of your streak, +5 points." in answer.data
    assert b"arriving" not in answer.data                # the database credited it in the request
    monkeypatch.undo()                                   # Redis is back
    if redis_at_commit == "back":                        # recorded after the commit: Redis alone answers
        assert burst.today_in_redis(client, member_id, clock.now(), zone=zone) == 2
    again = _tap(page)
    assert again.status_code == 409 and b"arriving" not in again.data
    assert b"already checked in" in again.data
    assert _credit(queued, clock.now()) == 0
    assert _task_points(member_id) == 10
    assert _audit_ok()


def test_the_streak_after_a_fallback_check_in_counts_the_day_redis_never_saw(queued, clock, monkeypatch):
    member_id, page = _member_page(queued, clock)
    client, zone = queued.extensions["mall.redis"], settings.current().timezone
    assert b"day 1 of your streak" in _tap(page).data       # Redis: day 1
    _credit(queued, clock.now())
    clock.advance(days=1)                                   # the next day Redis refuses writes all day
    burst.reconcile(client, clock.now(), zone=zone)
    monkeypatch.setattr(views, "app_redis", lambda: RefusingRedis(client))
    assert b"day 2 of your streak, +5 points." in _tap(page).data   # the database's answer
    monkeypatch.undo()
    clock.advance(days=1)                                   # Redis is back: its hash still says day 1
    today = _tap(page)
    assert today.status_code == 200 and b"day 3 of your streak" in today.data and b"arriving" in today.data
    assert _credit(queued, clock.now()) == 1
    assert db.session.scalar(select(Checkin.streak).where(Checkin.member_id == member_id)
                             .order_by(Checkin.day.desc()).limit(1)) == 3
    assert _task_points(member_id) == 15
    assert _audit_ok()


def test_a_fallback_tap_beside_a_queued_check_in_is_told_already_and_credited_once(queued, clock, monkeypatch):
    member_id, page = _member_page(queued, clock)
    client = queued.extensions["mall.redis"]
    first = _tap(page)
    assert first.status_code == 200 and b"arriving" in first.data   # queued, not credited yet
    monkeypatch.setattr(views, "app_redis", lambda: RefusingRedis(client))
    again = _tap(page)                                   # the script is refused: the fallback answers
    assert again.status_code == 409 and b"already checked in" in again.data
    assert _credit(queued, clock.now()) == 1
    assert _task_points(member_id) == 5
    assert db.session.scalar(select(func.count()).select_from(Checkin)) == 1
    assert _audit_ok()


@pytest.mark.parametrize("outage", ("no_answer", "no_writes_at_all"))
def test_a_fallback_that_cannot_read_redis_or_mark_its_shard_cold_says_busy_and_writes_nothing(
        queued, clock, monkeypatch, outage):
    """Redis unreadable for this member (their shard's master gone): a queued check-in may be
    waiting there, so the fallback can't tell a first tap from a second. Readable but refusing
    even DEL (a read-only replica): the shard can't be marked cold, so a database check-in would
    leave Redis answering "+5 arriving" to the next tap. Either way: try again."""
    member_id, page = _member_page(queued, clock)
    client = queued.extensions["mall.redis"]
    assert _tap(page).status_code == 200                 # queued, not credited yet
    outage = RefusingRedis(client, reads=False) if outage == "no_answer" else RefusingRedis(client, refuse=("delete",))
    monkeypatch.setattr(views, "app_redis", lambda: outage)
    busy = _tap(page)
    assert busy.status_code == 503 and b"try again" in busy.data
    assert db.session.scalar(select(func.count()).select_from(Checkin)) == 0
    monkeypatch.undo()
    assert _credit(queued, clock.now()) == 1
    assert _task_points(member_id) == 5



def test_members_tapping_at_once_are_each_checked_in_on_their_first_tap_and_refused_on_their_second(queued, clock):
    """The bench once reported 409s for members credited once (its own second taps): no member
    is told "already checked in" on a first tap, even with Redis cold (every tap asks the
    database first) and 24 members at once on real threads."""
    now, yesterday = clock.now(), clock.now() - timedelta(days=1)
    ids = _members(24, now, prefix="f")
    for member_id in ids[:8]:                        # a streak to continue
        _check_in(queued, member_id, yesterday)
    _credit(queued, yesterday)
    queued.extensions["mall.redis"].flushdb()        # cold: no warm marker, no member hashes

    def tap(i):
        answer = _check_in(queued, ids[i], now)
        return answer.new, answer.streak

    assert race(queued, 24, tap, returns=True) == [(True, 2)] * 8 + [(True, 1)] * 16
    assert race(queued, 24, tap, returns=True) == [(False, 2)] * 8 + [(False, 1)] * 16
    assert _credit(queued, now) == 24
    today = shoptime.local_day(now, settings.current().timezone)
    assert db.session.scalar(select(func.count()).select_from(Checkin).where(Checkin.day == today)) == 24
    assert [_task_points(m) for m in ids] == [10] * 8 + [5] * 16
    assert _audit_ok()


def test_the_first_tap_after_the_shops_midnight_is_a_new_check_in(queued, clock):
    member_id = make_user(clock.now()).id
    db.session.commit()
    zone = settings.current().timezone
    midnight = shoptime.day_start_utc(shoptime.local_day(clock.now(), zone) + timedelta(days=1), zone)
    before, after = midnight - timedelta(seconds=1), midnight + timedelta(seconds=1)
    assert _check_in(queued, member_id, before).new
    assert not _check_in(queued, member_id, before + timedelta(milliseconds=500)).new
    assert (_check_in(queued, member_id, after).new, _check_in(queued, member_id, after).new) == (True, False)
    assert _credit(queued, after) == 2
    assert _task_points(member_id) == 10
    assert _audit_ok()

def test_a_warm_shard_answers_without_the_database_and_a_cold_one_asks_it_before_saying_new(queued, clock):
    ids = _members(2, clock.now(), prefix="w")
    client = queued.extensions["mall.redis"]
    burst.reconcile(client, clock.now(), zone=settings.current().timezone)
    first, seen = _counted(lambda: _check_in(queued, ids[0], clock.now()))
    second, seen_again = _counted(lambda: _check_in(queued, ids[0], clock.now()))
    assert (first.new, second.new, seen, seen_again) == (True, False, [], [])
    client.delete(burst.warm_key(ids[1] % burst.SHARDS))     # a fallback check-in's shard
    cold, cold_seen = _counted(lambda: _check_in(queued, ids[1], clock.now()))
    assert cold.new and len(cold_seen) == 1                  # one indexed SELECT, then Redis
    db.session.rollback()


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
