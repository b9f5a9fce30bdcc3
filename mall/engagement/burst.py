"""The check-in burst (issue 16): answer a check-in from Redis at once, credit the ledger
from a queue in batches, exactly once.

With MALL_CHECKIN_MODE=queue (and Redis) a check-in is one Lua script on one Redis slot:

* `mall:{ck:N}:m:<member>`  hash {day, streak}: the member's last check-in day and streak;
* `mall:{ck:N}:day:<date>`  set of members who checked in that shop day (the reconcile reads it);
* `mall:{ck:N}:pending`     stream of check-ins waiting for their credit;
* `mall:{ck:N}:warm`        the master's replication id while this shard's member hashes are
                            complete (see below);

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

Redis answers "already" from the member's hash alone, and "new" from Redis alone only while
the shard is warm: its marker names the replication id of the master it is on. Otherwise the
member's last two days are read from the database first (one indexed SELECT), so a check-in
Redis lost or never saw is answered "already", truthfully, and nothing is queued:
* Flushed or restarted empty: the marker is gone.
* A failover that may have lost the last writes (asynchronous replication): the promoted
  replica has a new replication id. A check-in lost before its credit reached the database
  is in neither, so the member can check in again (and is credited then); with
  MALL_CHECKIN_WAIT_REPLICAS=1 a check-in is answered only after a replica has it (WAIT).
* A check-in the database took because the script failed (check_in_fallback): the shard's
  marker was dropped before it, and its record is written after the commit, best effort.
* Check-ins in a day set with no database row (an entry lost or trimmed from the stream):
  the reconcile job queues them again; the UNIQUE makes that harmless if one was only late.
The reconcile job (every 5 minutes) also warms cold shards from the database, never moving a
hash backwards, and marks them warm on the master they are on.
"""
import logging
import os
import socket
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import redis
from redis.cluster import ClusterPipeline
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from .. import shoptime
from ..errors import LockUnavailable
from ..extensions import db
from ..locks import UNAVAILABLE
from ..settings import TaskRewards
from ..unit_of_work import after_commit, commit
from .models import Checkin
from .checkin_credit import CheckinToCredit, credit_checkins
from .tasks import AlreadyCheckedIn, CheckinResult, TaskBoard, check_in

log = logging.getLogger(__name__)

SHARDS = 16
GROUP = "credit"
KEEP_SECONDS = 3 * 86400          # member hashes and day sets outlive yesterday's streak check
STALE_MS = 60_000                 # an entry a worker read and never acked for this long is taken over

# A shard is warm while its marker names the replication id of the master it is on: the
# marker replicates with everything else, but a promoted replica (a failover that may have
# lost the last writes) or a restarted master has a new id, so the shard reads as cold there
# until the reconcile warms it again. The id is read only when an answer would be "new".
_MASTER = """
local function master()
  return string.match(redis.call('INFO', 'replication'), 'master_replid:(%x+)')
end
"""

# A "new" answer is trusted from Redis only while the shard is warm; otherwise (ARGV[6] == '0')
# the script asks for the database's last check-in (-1) and is run again with it (ARGV[7..8]),
# which never moves the member's hash backwards. An "already" answer never needs the database.
_RECORD = _MASTER + """
local member, day, yesterday, ttl, at = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5]
local last = redis.call('HGET', KEYS[1], 'day')
if last ~= day then
  if ARGV[6] == '0' then
    if redis.call('GET', KEYS[4]) ~= master() then return {-1, 0} end
  elseif ARGV[7] ~= '' and (not last or last < ARGV[7]) then
    redis.call('HSET', KEYS[1], 'day', ARGV[7], 'streak', ARGV[8])
    last = ARGV[7]
  end
end
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

# A check-in the database took without Redis (the fallback): its record, as warming writes
# it, and the member in the day set (the reconcile then finds its row, so queues nothing).
_REMEMBER = _WARM.replace("return 1", """redis.call('SADD', KEYS[2], ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[3])
return 1""")

_MARK_WARM = _MASTER + "redis.call('SET', KEYS[1], master())\nreturn 1\n"
_IS_WARM = _MASTER + "if redis.call('GET', KEYS[1]) == master() then return 1 end\nreturn 0\n"


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
    if new == -1:  # would be new, but the shard is cold (Redis lost data, failed over, or took a
        # fallback check-in it could not record): the database's last two days decide
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


def check_in_fallback(client: redis.Redis, member_id: int, now: datetime, *, zone: str,
                      device: str | None = None, ip: str | None = None) -> CheckinResult:
    """The synchronous check-in when the Redis script failed (`check_in_queued` raised).

    Before the database checks in, Redis is told and asked, in one round trip:
    * the member's record: a check-in Redis queued and the workers have not credited yet is
      not in the database, so today's there means "already" (AlreadyCheckedIn);
    * the shard's warm marker is dropped: from now until the reconcile warms it again, the
      shard's would-be-new answers ask the database, so the record Redis may never get
      (below) can't make a second tap "+5 arriving". Only a failed tap's shard goes cold.
    When Redis does neither, no one can tell a first tap from a second: LockUnavailable ("busy,
    try again"), nothing written. After the commit, today's record is written to Redis
    (`remember`), so the next tap is answered "already" without the database."""
    pipe = client.pipeline(transaction=False)
    pipe.hmget(member_key(member_id), "day", "streak")
    pipe.delete(warm_key(member_id % SHARDS))
    try:
        (last, _streak), _dropped = pipe.execute()
    except UNAVAILABLE as exc:
        raise LockUnavailable() from exc
    if last is not None and last.decode() == shoptime.local_day(now, zone).isoformat():
        raise AlreadyCheckedIn()
    result = check_in(member_id, now, device=device, ip=ip)
    after_commit(remember, client, member_id, result.checkin.day, result.checkin.streak)
    return result


def remember(client: redis.Redis, member_id: int, day: date, streak: int) -> None:
    """After a fallback check-in committed: its record in Redis, never moving it backwards.
    Best effort: the shard went cold before the check-in (check_in_fallback), so a record Redis
    still refuses is only the database's to answer until the reconcile warms the shard from it.
    The marker is dropped again in case a reconcile warmed the shard in between."""
    shard = member_id % SHARDS
    try:
        client.register_script(_REMEMBER)(keys=[member_key(member_id), day_key(shard, day)],
                                          args=[day.isoformat(), streak, KEEP_SECONDS, member_id])
        return
    except UNAVAILABLE as exc:
        log.warning("check-in of member %s on %s not recorded in Redis (%s); shard %s stays cold",
                    member_id, day, exc, shard)
    try:
        client.delete(warm_key(shard))
    except UNAVAILABLE as exc:
        log.warning("shard %s warm marker not dropped again: %s", shard, exc)


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
    except UNAVAILABLE:
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
    requeued, is_warm = 0, client.register_script(_IS_WARM)
    for shard in range(SHARDS):
        if not is_warm(keys=[warm_key(shard)]):
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
        _queue_script(newer, client, pipe, keys=[member_key(member_id)], args=[day.isoformat(), streak, KEEP_SECONDS])
        pipe.sadd(day_key(shard, day), member_id)
        pipe.expire(day_key(shard, day), KEEP_SECONDS)
    pipe.execute()
    # The marker last, once every record above is in: a shard marked warm too early would
    # answer "new" for a member whose record is still on its way.
    client.register_script(_MARK_WARM)(keys=[warm_key(shard)])


def _queue_script(script, client, pipe, *, keys, args) -> None:
    """Queue a Lua script in `pipe`, or on a Redis Cluster run it at once: redis-py's cluster
    pipeline refuses scripts (EVALSHA is blocked there), and the reconcile can afford a round
    trip per record."""
    if isinstance(pipe, ClusterPipeline):
        script(keys=keys, args=args, client=client)
    else:
        script(keys=keys, args=args, client=pipe)
