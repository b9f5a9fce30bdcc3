"""The check-in burst (issue 16): answer a check-in from Redis at once, credit the ledger
from a queue in batches, exactly once.

With MALL_CHECKIN_MODE=queue (and Redis) a check-in is one Lua script on one Redis slot:

* `mall:{ck:N}:m:<member>`  hash {day, streak}: the member's last check-in day and streak;
* `mall:{ck:N}:day:<date>`  set of members who checked in that shop day (the reconcile reads it);
* `mall:{ck:N}:pending`     stream of check-ins waiting for their credit;
* `mall:{ck:N}:warm`        present while this shard's member hashes are complete (see below);

N = member id mod SHARDS. The hash tag {ck:N} puts one shard's keys in one Redis Cluster
slot, so the script touches its four keys atomically on a cluster too, and the 16 shards
spread over the masters. The script records the day and the streak and queues the credit
only when the member has not checked in today, so a double tap on any node is one check-in.

Queue workers (mall/worker.py `credit_checkins`) read each shard's stream with a consumer
group (XREADGROUP; entries a dead worker left are taken over with XAUTOCLAIM), insert the
batch's Checkin rows with one multi-row INSERT .. ON CONFLICT DO NOTHING, credit the new
rows together (mall/engagement/checkin_credit.py: caps, budget, lots and expiry as a
synchronous check-in, in about fifteen statements per batch whatever its size), commit once
per batch, and only then XACK. The database's UNIQUE(member_id, day) is what
makes the credit exactly-once: a replayed or duplicated entry inserts nothing and credits
nothing.

Redis losing data:
* Flushed or restarted empty: the shard's `warm` marker is gone, so a member without a hash
  is looked up in the database (their last two days of check-ins) before the script runs:
  a member who already checked in today is told so, truthfully, and nothing is queued.
  The reconcile job re-warms the shard from the database and sets the marker again.
* A failover that loses the last writes (asynchronous replication): set
  MALL_CHECKIN_WAIT_REPLICAS=1 so a check-in is answered only after a replica has it
  (Redis WAIT). Without it, a member whose check-in was lost can check in again: Redis says
  yes, the database's UNIQUE refuses a second credit, and the statement shows one.
* Check-ins in a day set with no database row (an entry lost or trimmed from the stream):
  the reconcile job queues them again; the UNIQUE makes that harmless if one was only late.
"""
import os
import socket
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import redis
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from .. import shoptime
from ..extensions import db
from ..settings import TaskRewards
from ..unit_of_work import commit
from .models import Checkin
from .checkin_credit import CheckinToCredit, credit_checkins
from .tasks import TaskBoard

SHARDS = 16
GROUP = "credit"
KEEP_SECONDS = 3 * 86400          # member hashes and day sets outlive yesterday's streak check
STALE_MS = 60_000                 # an entry a worker read and never acked for this long is taken over

_RECORD = """
local member, day, yesterday, ttl, at = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5]
if redis.call('EXISTS', KEYS[1]) == 0 then
  if ARGV[6] == '0' then
    if redis.call('EXISTS', KEYS[4]) == 0 then return {-1, 0} end
  elseif ARGV[7] ~= '' then
    redis.call('HSET', KEYS[1], 'day', ARGV[7], 'streak', ARGV[8])
  end
end
local last = redis.call('HGET', KEYS[1], 'day')
local streak = tonumber(redis.call('HGET', KEYS[1], 'streak') or '0')
if last == day then
  redis.call('EXPIRE', KEYS[1], ttl)
  return {0, streak}
end
if last == yesterday then streak = streak + 1 else streak = 1 end
redis.call('HSET', KEYS[1], 'day', day, 'streak', streak)
redis.call('EXPIRE', KEYS[1], ttl)
redis.call('SADD', KEYS[2], member)
redis.call('EXPIRE', KEYS[2], ttl)
redis.call('XADD', KEYS[3], '*', 'm', member, 'd', day, 't', at)
return {1, streak}
"""

# Warming never moves a member's hash backwards: a check-in Redis took after it lost its data
# (and before this warm) is newer than the database's row.
_WARM = """
local last = redis.call('HGET', KEYS[1], 'day')
if not last or last < ARGV[1] then redis.call('HSET', KEYS[1], 'day', ARGV[1], 'streak', ARGV[2]) end
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""


def _tag(member_id: int) -> str:
    return "{ck:%d}" % (member_id % SHARDS)


def member_key(member_id: int) -> str:
    return f"mall:{_tag(member_id)}:m:{member_id}"


def day_key(shard: int, day: date) -> str:
    return "mall:{ck:%d}:day:%s" % (shard, day.isoformat())


def stream_key(shard: int) -> str:
    return "mall:{ck:%d}:pending" % shard


def warm_key(shard: int) -> str:
    return "mall:{ck:%d}:warm" % shard


@dataclass(frozen=True)
class QueuedCheckin:
    """What the member is told at once."""
    new: bool          # recorded now; the points are on their way to the statement
    streak: int
    points: int        # what the rules offer (caps and budgets are applied when credited)
    streak_bonus: bool


def check_in_queued(client: redis.Redis, member_id: int, now: datetime, *, zone: str, rewards: TaskRewards,
                    wait_replicas: int = 0) -> QueuedCheckin:
    """Record today's check-in in Redis and queue its credit; one round trip when the shard
    is warm. Raises redis.RedisError when Redis is unreachable (the view then checks in
    synchronously)."""
    day = shoptime.local_day(now, zone)
    shard = member_id % SHARDS
    keys = [member_key(member_id), day_key(shard, day), stream_key(shard), warm_key(shard)]
    args = [member_id, day.isoformat(), (day - timedelta(days=1)).isoformat(), KEEP_SECONDS,
            now.astimezone(timezone.utc).isoformat()]
    script = client.register_script(_RECORD)
    new, streak = script(keys=keys, args=args + ["0", "", "0"])
    if new == -1:  # cold shard: Redis lost (or never had) this member's hash; ask the database
        last = db.session.scalars(select(Checkin).where(Checkin.member_id == member_id,
                                                        Checkin.day >= day - timedelta(days=1))
                                  .order_by(Checkin.day.desc()).limit(1)).first()
        seed = [last.day.isoformat(), last.streak] if last is not None else ["", 0]
        new, streak = script(keys=keys, args=args + ["1"] + seed)
    if new == 1 and wait_replicas:
        client.wait(wait_replicas, 500)  # on a replica before we say yes (failover keeps it)
    bonus = streak % rewards.streak_days == 0
    return QueuedCheckin(new=new == 1, streak=int(streak),
                         points=rewards.checkin_points + (rewards.streak_bonus if bonus else 0), streak_bonus=bonus)


def quick_board(queued: QueuedCheckin, rewards: TaskRewards) -> TaskBoard:
    """The check-in card's board from the answer alone (no database read); caps unknown."""
    return TaskBoard(streak=queued.streak, checked_in_today=True, streak_days=rewards.streak_days,
                     checkin_points=rewards.checkin_points, streak_bonus=rewards.streak_bonus,
                     profile_done=0, profile_total=0, profile_points=rewards.profile_points, referral_code="",
                     referral_points=rewards.referral_points, referred_count=0, rewarded_count=0,
                     referred_by=None, can_claim_referral=False, caps=None)


def today_in_redis(client: redis.Redis, member_id: int, now: datetime, *, zone: str) -> int | None:
    """The streak when Redis says the member checked in today (credit maybe still queued)."""
    try:
        last, streak = client.hmget(member_key(member_id), "day", "streak")
    except redis.RedisError:
        return None
    if last is not None and last.decode() == shoptime.local_day(now, zone).isoformat():
        return int(streak)
    return None


# --- the queue workers' side -------------------------------------------------------------

def _consumer() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _ensure_group(client: redis.Redis, shard: int) -> None:
    try:
        client.xgroup_create(stream_key(shard), GROUP, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


def _missing_group(exc: redis.ResponseError) -> bool:
    return "NOGROUP" in str(exc)


def _read(client: redis.Redis, shard: int, batch: int) -> list:
    """Entries a dead worker left (idle past STALE_MS) first, then new ones. The group is
    created on first use (and again if Redis lost the stream), not on every read."""
    try:
        stale = client.xautoclaim(stream_key(shard), GROUP, _consumer(), STALE_MS, "0-0", count=batch)[1]
    except redis.ResponseError as exc:
        if not _missing_group(exc):
            raise
        _ensure_group(client, shard)
        stale = []
    fresh = client.xreadgroup(GROUP, _consumer(), {stream_key(shard): ">"}, count=batch) if len(stale) < batch else []
    return list(stale) + [entry for _name, entries in fresh for entry in entries]


def credit_pending(client: redis.Redis, now: datetime, *, zone: str, rewards: TaskRewards, batch: int = 500,
                   seconds: float = 5.0) -> int:
    """Drain the shards' streams (for up to `seconds`), one transaction and one XACK per
    batch. Returns the check-ins credited (new rows; replays count nothing)."""
    credited, deadline = 0, datetime.now(timezone.utc) + timedelta(seconds=seconds)
    busy = True
    while busy and datetime.now(timezone.utc) < deadline:
        busy = False
        for shard in range(SHARDS):
            entries = _read(client, shard, batch)
            if not entries:
                continue
            busy = True
            rows = [(int(f[b"m"]), date.fromisoformat(f[b"d"].decode()), datetime.fromisoformat(f[b"t"].decode()))
                    for _id, f in entries if f]  # an entry deleted meanwhile comes back empty
            credited += credit_batch(rows, rewards=rewards)
            commit()
            ids = [entry_id for entry_id, _f in entries]
            client.xack(stream_key(shard), GROUP, *ids)
            client.xdel(stream_key(shard), *ids)
    return credited


def credit_batch(rows: list[tuple[int, date, datetime]], *, rewards: TaskRewards) -> int:
    """Insert the batch's check-ins with one multi-row INSERT (a member and day already
    there is skipped: UNIQUE(member_id, day)), then credit the new ones together
    (checkin_credit.credit_checkins: the single path's outcome, in a constant number of
    statements). Flushes only."""
    rows = list({(m, d): (m, d, t) for m, d, t in rows}.values())
    if not rows:
        return 0
    wanted_days = {(m, d - timedelta(days=1)) for m, d, _t in rows}
    yesterday = {(m, d): streak for m, d, streak in db.session.execute(  # plain INs compile fast; pairs filtered here
        select(Checkin.member_id, Checkin.day, Checkin.streak).where(
            Checkin.member_id.in_(sorted({m for m, _d in wanted_days})),
            Checkin.day.in_(sorted({d for _m, d in wanted_days})))) if (m, d) in wanted_days}
    values = []
    for member_id, day, at in sorted(rows, key=lambda r: (r[1], r[0])):
        before = yesterday.get((member_id, day - timedelta(days=1)))
        streak = before + 1 if before else 1
        yesterday[(member_id, day)] = streak  # the same member's next day in this batch
        bonus = streak % rewards.streak_days == 0
        wanted = rewards.checkin_points + (rewards.streak_bonus if bonus else 0)
        values.append(dict(member_id=member_id, day=day, streak=streak, points=0, wanted=wanted, created_at=at))
    insert = pg_insert if db.engine.dialect.name == "postgresql" else sqlite_insert
    new = db.session.connection().execute(insert(Checkin.__table__).on_conflict_do_nothing(
        index_elements=["member_id", "day"]).returning(Checkin.id, Checkin.member_id, Checkin.day), values).all()
    by_key = {(v["member_id"], v["day"]): v for v in values}
    credit_checkins([CheckinToCredit(checkin_id, member_id, day, by_key[(member_id, day)]["streak"],
                                     by_key[(member_id, day)]["wanted"],
                                     by_key[(member_id, day)]["wanted"] != rewards.checkin_points,
                                     by_key[(member_id, day)]["created_at"])
                     for checkin_id, member_id, day in sorted(new, key=lambda r: (r[2], r[1]))])
    db.session.flush()
    return len(new)


# --- reconcile: Redis's day sets against the database --------------------------------------

def reconcile(client: redis.Redis, now: datetime, *, zone: str) -> int:
    """For today and yesterday: members in a shard's day set without a database row are
    queued again (the UNIQUE makes a late duplicate harmless). A shard that lost its warm
    marker (Redis emptied) is warmed from the database first. Returns the re-queued count."""
    today = shoptime.local_day(now, zone)
    requeued = 0
    for shard in range(SHARDS):
        if not client.exists(warm_key(shard)):
            warm(client, shard, today)
        for day in (today - timedelta(days=1), today):
            members = [int(m) for m in client.smembers(day_key(shard, day))]
            if not members:
                continue
            known = set(db.session.scalars(select(Checkin.member_id).where(Checkin.day == day,
                                                                           Checkin.member_id.in_(members))))
            at = now.astimezone(timezone.utc).isoformat()
            for member_id in sorted(set(members) - known):
                client.xadd(stream_key(shard), {"m": member_id, "d": day.isoformat(), "t": at})
                requeued += 1
    db.session.rollback()  # read only
    return requeued


def warm(client: redis.Redis, shard: int, today: date) -> None:
    """Load yesterday's and today's check-ins of one shard from the database into Redis, then
    mark the shard warm: from then on a member without a hash has not checked in lately."""
    rows = db.session.execute(select(Checkin.member_id, Checkin.day, Checkin.streak).where(
        Checkin.day >= today - timedelta(days=1), Checkin.member_id % SHARDS == shard)
        .order_by(Checkin.day)).all()
    pipe, newer = client.pipeline(transaction=False), client.register_script(_WARM)
    for member_id, day, streak in rows:
        newer(keys=[member_key(member_id)], args=[day.isoformat(), streak, KEEP_SECONDS], client=pipe)
        pipe.sadd(day_key(shard, day), member_id)
        pipe.expire(day_key(shard, day), KEEP_SECONDS)
    pipe.set(warm_key(shard), today.isoformat())
    pipe.execute()
