"""Check-in burst benchmark (issue 16): N members check in at once against the real stack.

    .venv/bin/python bench/checkin.py [--members 50000] [--workers 2] [--connections 256]

From a clean clone (it runs scripts/setup first when .venv is missing): seeds N members in
a fresh PostgreSQL database (schema by the migrations), serves the app with gunicorn on
127.0.0.1:18231 with MALL_CHECKIN_MODE=queue, starts one Celery worker for the check-in
queue and the RedBeat scheduler (Redis db 9 by default), and fires every member's check-in
once with wrk (bench/checkin.lua: a signed session cookie and CSRF token per member, one
client address per member) at high concurrency. It reports check-ins/s per app core, p50/p99,
the time until every credit is in the ledger, and `audit_ok`, beside the ceiling measured
the same way (wrk, same gunicorn settings, bench/ceiling.py: one Redis round trip + one
single-row PostgreSQL transaction). The last line printed is one JSON object.

The first WARM members check in before the burst (it warms the gunicorn workers up); the
burst is every other member's first tap, exactly once, so `first_taps_409` counts members
told "already checked in" on their first tap and must be 0; `unanswered` counts taps whose
answer never came (wrk never re-sends one: `socket_errors` says why). Afterwards the warmed-up
members tap again, and `repeat_taps_409` must equal `repeat_taps`.
"""
import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if not (ROOT / ".venv/bin/python").exists():
    subprocess.run(["bash", str(ROOT / "scripts/setup")], check=True)
if Path(sys.executable).resolve() != (ROOT / ".venv/bin/python").resolve() and "BENCH_REEXEC" not in os.environ:
    os.execve(str(ROOT / ".venv/bin/python"), [str(ROOT / ".venv/bin/python"), *sys.argv],
              {**os.environ, "BENCH_REEXEC": "1"})
sys.path.insert(0, str(ROOT))

from bench.flash_sale import REDIS_URL, SECRET, fresh_database, serve, session_cookies  # noqa: E402

WRK = os.environ.get("BENCH_WRK", "/usr/bin/wrk")
if not Path(WRK).exists():  # Debian's wrk; PostgreSQL and Redis must be up (scripts/test starts them)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
ENV = {"REDIS_URL": REDIS_URL, "SECRET_KEY": SECRET, "MALL_ENV": "production", "SESSION_COOKIE_SECURE": "0",
       "MALL_CHECKIN_MODE": "queue", "MALL_PROXY_HOPS": "1",
       # one programme budget for every check-in: large enough that none is held for HQ
       "MALL_PROGRAMME_DEFAULT_MONTHLY_POINTS": "100000000"}


def seed(url: str, members: int):
    """Members by bulk inserts on the connection (no points needed to check in; the session's
    write bookkeeping can't freeze a multi-row result), schema by migrations."""
    os.environ.update(DATABASE_URL=url, **ENV)
    from flask_migrate import upgrade
    from sqlalchemy import text

    from mall import create_app
    from mall.accounts.models import User
    from mall.accounts.services import _hasher
    from mall.extensions import db
    from mall.points.models import PointsAccount
    from tests.factories import make_tiers

    app = create_app()
    with app.app_context():
        upgrade()
        app.extensions["mall.redis"].flushdb()
        now = datetime.now(timezone.utc)
        make_tiers()
        password = _hasher().hash(secrets.token_hex(8))  # nobody logs in with it; sessions are minted
        for start in range(0, members, 5000):
            db.session.connection().execute(User.__table__.insert(), [
                dict(email=f"m{i}@bench.example.com", password_hash=password, display_name=f"M{i}",
                     member_code=f"C{i:07d}", role="member", locale="zh_Hans", created_at=now)
                for i in range(start, min(members, start + 5000))])
        ids = list(db.session.scalars(text("SELECT id FROM users ORDER BY id")))
        db.session.connection().execute(PointsAccount.__table__.insert(), [dict(member_id=i, balance=0, updated_at=now) for i in ids])
        db.session.commit()
        from mall.engagement import burst
        from mall.settings import current
        burst.reconcile(app.extensions["mall.redis"], now, zone=current().timezone)  # warm every shard
        return app, ids


def celery(args: list[str], env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen([str(ROOT / ".venv/bin/celery"), "-A", "worker:celery", *args],
                            cwd=ROOT, env={**os.environ, **env}, stdout=log.open("w"), stderr=subprocess.STDOUT,
                            start_new_session=True)


WARM = 64  # members checked in before the burst (and tapped again after it)


def fire(port: int, path: str, sessions_file: Path, threads: int, connections: int, stall: float = 60) -> dict:
    """Every line's member taps once; returns wrk's report (bench/checkin.lua's WRK line).
    wrk is stopped when every thread has all its answers, or when no answer came for `stall`
    seconds (a tap whose connection failed is never answered: it counts as unanswered)."""
    members = sum(1 for _ in sessions_file.open())
    threads = max(1, min(threads, members))  # a wrk thread with no member would never finish
    done = Path(tempfile.mkdtemp(prefix="wrk-done-"))
    proc = subprocess.Popen([WRK, "-t", str(threads), "-c", str(max(connections, threads)), "-d", "3600s",
                             "--timeout", f"{stall:.0f}s",
                             "-s", str(ROOT / "bench/checkin.lua"), f"http://127.0.0.1:{port}{path}"],
                            env={**os.environ, "BENCH_SESSIONS": str(sessions_file), "BENCH_THREADS": str(threads),
                                 "BENCH_PATH": path, "BENCH_DONE_DIR": str(done)},
                            stdout=subprocess.PIPE, text=True)
    seen, moved = -1, time.monotonic()
    while proc.poll() is None:
        files = list(done.iterdir())
        if sum(1 for f in files if f.name.isdigit()) == threads:
            break
        progress = sum(int(f.read_text() or 0) for f in files if f.name.startswith("progress-"))
        if progress != seen:
            seen, moved = progress, time.monotonic()
        elif time.monotonic() - moved > stall:
            print(f"wrk: no answer for {stall:.0f} s, stopping it ({progress} answered)", file=sys.stderr)
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)  # every member answered (or given up on): wrk reports now
    out = proc.communicate()[0]
    line = next(line for line in out.splitlines() if line.startswith("WRK "))
    return json.loads(line[4:])


def credited(app) -> int:
    from sqlalchemy import text
    from mall.extensions import db
    with app.app_context():
        count = db.session.scalar(text("SELECT count(*) FROM ledger_entries WHERE source = 'task'"))
        db.session.remove()
        return count


def stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=50_000)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn processes (the app cores)")
    parser.add_argument("--threads", type=int, default=8, help="threads per gunicorn process")
    parser.add_argument("--connections", type=int, default=256)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--port", type=int, default=18231)
    parser.add_argument("--drain-timeout", type=float, default=900)
    parser.add_argument("--database", default="mall_bench_checkin", help="PostgreSQL database (dropped and created)")
    parser.add_argument("--drain-only", action="store_true",
                        help="no HTTP: queue every member's check-in straight into Redis, then time the credit alone")
    args = parser.parse_args()
    if args.drain_only:
        return drain_only(args)

    if args.members <= WARM:
        parser.error(f"--members must be more than the {WARM} the warm-up checks in")
    url = fresh_database(args.database)
    app, ids = seed(url, args.members)
    scratch = Path(tempfile.mkdtemp(prefix="bench-checkin-"))
    warm_file, burst_file = scratch / "warm.tsv", scratch / "burst.tsv"
    with warm_file.open("w") as warm_out, burst_file.open("w") as burst_out:
        for n, (cookie, token) in enumerate(session_cookies(app, ids)):
            (warm_out if n < WARM else burst_out).write(
                f"{cookie}\t{token}\t10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}\n")
    env = {**ENV, "DATABASE_URL": url}
    # The ledger side: one worker on the check-in queue, and the scheduler that ticks it.
    worker = celery(["worker", "--pool=solo", "-Q", "mall.checkins", "-n", "bench-checkins@%h", "--loglevel=WARNING",
                     "--without-gossip", "--without-mingle", "--without-heartbeat"], env, scratch / "worker.log")
    beat = celery(["beat", "-S", "redbeat.RedBeatScheduler", "--loglevel=WARNING"], env, scratch / "beat.log")
    server = serve("wsgi:app", args.port, env, args.workers, args.threads)
    try:
        warm = fire(args.port, "/tasks/check-in", warm_file, 1, 8)  # the first members' check-ins
        started = time.perf_counter()
        burst = fire(args.port, "/tasks/check-in", burst_file, args.wrk_threads, args.connections)
        answered = time.perf_counter()
        deadline = answered + args.drain_timeout
        while credited(app) < args.members and time.perf_counter() < deadline:
            time.sleep(0.25)
        all_credited = time.perf_counter()
        in_ledger = credited(app)
        again = fire(args.port, "/tasks/check-in", warm_file, 1, 8)  # checked in already: 409 each
    finally:
        stop(server)
        stop(beat)
        stop(worker)

    with app.app_context():
        from sqlalchemy import text
        from mall.audit import run_audit
        from mall.extensions import db
        checkins = db.session.scalar(text("SELECT count(*) FROM checkins"))
        doubles = db.session.scalar(text(
            "SELECT count(*) FROM (SELECT member_id FROM ledger_entries WHERE source = 'task' "
            "GROUP BY member_id HAVING count(*) > 1) d"))
        audit_ok = not [f for f in run_audit() if f.violations]
        db.engine.dispose()

    import psycopg
    with psycopg.connect(f"host=127.0.0.1 user=postgres dbname={args.database}", autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_ceiling (id int PRIMARY KEY, hits bigint NOT NULL)")
        conn.execute("INSERT INTO bench_ceiling VALUES (1, 0) ON CONFLICT DO NOTHING")
    server = serve("bench.ceiling:app", args.port + 1, {**env, "CEILING_DATABASE_URL": url}, args.workers, args.threads)
    try:
        fire(args.port + 1, "/ceiling", warm_file, 1, 8)
        ceiling = fire(args.port + 1, "/ceiling", burst_file, args.wrk_threads, args.connections)
    finally:
        stop(server)

    cores = min(args.workers, os.cpu_count() or 1)
    per_s = _answers(burst) / burst["seconds"]
    ceiling_per_s = _answers(ceiling) / ceiling["seconds"]
    print(f"warm-up: {warm}; burst: {burst}; repeat taps: {again}; ceiling: {ceiling}; {checkins} check-in rows, "
          f"{in_ledger} credits in the ledger, app cores {cores} of {os.cpu_count()} on this machine; "
          f"logs in {scratch}", file=sys.stderr)
    print(json.dumps({
        "members": args.members,
        "checkins_per_s": round(per_s, 1),
        "checkins_per_s_per_core": round(per_s / cores, 1),
        "p50_ms": burst["p50_ms"], "p99_ms": burst["p99_ms"],
        # the burst: each of these members' first tap, once
        "first_taps": burst["members"], "first_taps_200": burst["s200"], "first_taps_409": burst["s409"],
        "first_taps_other": burst["other"], "unanswered": burst["unanswered"],
        "socket_errors": burst["socket_errors"],
        "burst_s": round(answered - started, 2),
        "all_credited_s": round(all_credited - started, 2),
        "credited": in_ledger, "checkin_rows": checkins, "members_credited_twice": doubles,
        "audit_ok": audit_ok,
        # the warmed-up members again, after the burst: every answer must be 409
        "repeat_taps": again["members"], "repeat_taps_409": again["s409"],
        "ceiling_per_s": round(ceiling_per_s, 1),
        "ceiling_per_s_per_core": round(ceiling_per_s / cores, 1),
        "ceiling_p50_ms": ceiling["p50_ms"], "ceiling_p99_ms": ceiling["p99_ms"],
        "ratio": round(per_s / ceiling_per_s, 3),
        "app_cores": cores, "machine_cores": os.cpu_count(),
    }))


def _answers(report: dict) -> int:
    """Answers to distinct members' taps (what the rate counts: no tap is sent twice)."""
    return report["s200"] + report["s409"] + report["other"]


def drain_only(args) -> None:
    """The ledger side alone: every member's check-in recorded in Redis as the request does
    (burst.check_in_queued), then drained in this process exactly as the worker's job does
    (burst.credit_pending, one commit per batch) until all are in the ledger."""
    app, ids = seed(fresh_database(args.database), args.members)  # first: it sets the app's environment
    from sqlalchemy import event, text
    from mall import rawsql
    from mall.audit import run_audit
    from mall.engagement import burst
    from mall.extensions import db
    from mall.settings import current

    with app.app_context():
        client, cfg, now = app.extensions["mall.redis"], current(), datetime.now(timezone.utc)
        for member_id in ids:
            burst.check_in_queued(client, member_id, now, zone=cfg.timezone, rewards=cfg.tasks)
        db.session.remove()
        statements = []
        event.listen(db.engine, "before_cursor_execute", lambda *a: statements.append(1))
        rawsql.observers.append(lambda *a: statements.append(1))  # prepared SQL strings skip the engine
        started, credited = time.perf_counter(), 0
        while credited < len(ids) and time.perf_counter() - started < args.drain_timeout:
            credited += burst.credit_pending(client, now, zone=cfg.timezone, rewards=cfg.tasks)
            db.session.commit()
        drained, counted = time.perf_counter() - started, len(statements)
        in_ledger = db.session.scalar(text("SELECT count(*) FROM ledger_entries WHERE source = 'task'"))
        audit_ok = not [f for f in run_audit() if f.violations]
        db.engine.dispose()
    print(json.dumps({"members": args.members, "mode": "drain_only", "credited": in_ledger,
                      "drain_s": round(drained, 2), "credits_per_s": round(in_ledger / drained, 1),
                      "statements": counted, "statements_per_credit": round(counted / max(in_ledger, 1), 3),
                      "audit_ok": audit_ok, "machine_cores": os.cpu_count()}))


if __name__ == "__main__":
    main()
