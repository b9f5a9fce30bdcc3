"""Checkout speed against the stack's ceiling, with wrk as the load generator (issue 15).

    bash scripts/bench            # from a clean clone: services, .venv, wrk, then this
    .venv/bin/python bench/checkout_wrk.py [--seconds 10] [--workers 4] [--threads 8]

Seeds a fresh PostgreSQL database through the migrations and the app's services (1,000
members with points, an item with ample stock, a flash-sale item with 1,000 units), serves
the app AND the bare ceiling endpoint (bench/ceiling.py: one Redis round trip + one
single-row PostgreSQL transaction) with the same gunicorn settings side by side, and drives
both with wrk (compiled, epoll; Lua scripts mint each member's session cookie and CSRF token)
in interleaved pairs, so that each figure sits beside a ceiling measured the same moment:

- cold: the first second on freshly started workers (reported apart, never in the ratios);
- steady: 64 connections, stock ample, members in turn: successful checkouts/s, p50/p99;
- sellout: 1,000 units, 1,000 connections, one checkout per member: time from the first
  request to the last unit sold (polled from the database), units/s, the winners' p99;
- refusals: taps on the sold-out item, every other one a duplicate submit: refusals/s, p99.

The last line is one JSON object: a key per scenario and per ratio, plus `oversold`,
`negative_balances` and `audit_ok`.
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.flash_sale import REDIS_URL, SECRET, bench_app, free_port, fresh_database, seed_members, session_cookies  # noqa: E402

DB_NAME = os.environ.get("BENCH_DB", "mall_bench_wrk")
LUA = ROOT / "bench" / "wrk_checkout.lua"
WRK_THREADS = 2


def seed(url: str, members: int, sellout_units: int):
    """Schema by migrations, then data through the app's own services."""
    app = bench_app(url)  # first: the app's settings are read from the environment it sets
    from mall.extensions import db
    from tests.factories import make_item, make_tiers

    with app.app_context():
        now = datetime.now(timezone.utc)
        make_tiers()
        steady = make_item(now, name="Everyday socks", points=10, stock=1_000_000)
        sellout = make_item(now, name="Flash-sale speaker", points=500, stock=sellout_units)
        ids = seed_members(members, points=100_000, now=now, prefix="W", joined=now - timedelta(days=400))
        # The sessions are minted, not logged in: record what each member's login on their
        # phone would have (risk control's device sighting, mall/accounts/views.py), or every
        # member's first checkout would be the first time their device was ever seen.
        from sqlalchemy import insert

        from mall.risk.models import MemberSighting
        db.session.connection().execute(insert(MemberSighting.__table__), [
            dict(member_id=member_id, kind="device", value=device_of(n), first_seen=now, last_seen=now)
            for n, member_id in enumerate(ids)])
        db.session.commit()
        return app, (steady.id, steady.plans[0].id), (sellout.id, sellout.plans[0].id), ids


def serve(app_path: str, port: int, env: dict, workers: int, threads: int) -> subprocess.Popen:
    """gunicorn as bench/flash_sale.py runs it; returns once every worker has booted."""
    ready = Path(tempfile.mkdtemp(prefix="bench-ready-"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", app_path, "-b", f"127.0.0.1:{port}", "-w", str(workers),
         "-k", "gthread", "--threads", str(threads), "--keep-alive", "30", "--log-level", "warning",
         "--backlog", "2048", "-c", "python:bench.gunicorn_ready"],
        cwd=ROOT, env={**os.environ, **env, "BENCH_READY_DIR": str(ready)}, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if len(list(ready.iterdir())) >= workers:
            shutil.rmtree(ready, ignore_errors=True)
            return proc
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    raise RuntimeError(f"gunicorn {app_path} did not start")


def device_of(n: int) -> str:
    """The n-th member's device cookie (their own phone)."""
    return f"benchdev{n:06d}"


def lua_script(directory: Path, name: str, *, mode: str, path: str, origin: str, sessions, plan=0,
               run="r", per_thread=0) -> Path:
    # Each member on their own phone (device cookie): one device shared by all would be a
    # flagged risk cluster and hold every order for review.
    members = ",\n".join(f'{{"{cookie}","{token}","{device_of(n)}"}}' for n, (cookie, token) in enumerate(sessions))
    script = directory / f"{name}.lua"
    script.write_text(
        f'MODE = "{mode}"\nPATH = "{path}"\nORIGIN = "{origin}"\nPLAN = {plan}\nRUN = "{run}"\n'
        f"THREADS = {WRK_THREADS}\nPER_THREAD = {per_thread}\nMEMBERS = {{\n{members}\n}}\n"
        f'dofile("{LUA}")\n')
    return script


def wrk(script: Path, url: str, *, connections: int, seconds: float, until=None) -> dict:
    """Run wrk; with `until` (a callable polled every 5 ms) stop it (SIGINT: wrk still reports)
    once until() returns a time. Returns wrk's figures, plus `done_s` when `until` was given."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        ["wrk", "-t", str(WRK_THREADS), "-c", str(connections), "-d", f"{int(seconds)}s", "--timeout", "60s",
         "-s", str(script), url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    done_at = None
    if until is not None:
        while proc.poll() is None:
            if until():
                done_at = time.perf_counter()
                break
            time.sleep(0.005)
        time.sleep(0.5)  # the last responses reach wrk after their commit
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=seconds + 60)
    line = next((l for l in out.splitlines() if l.startswith("WRK ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no figures:\n{out}\n{err}")
    result = json.loads(line[4:])
    if until is not None:
        result["done_s"] = round(done_at - started, 3) if done_at else None
    return result


class Poll:
    """A counter read from PostgreSQL, for 'when was the last unit sold'."""

    def __init__(self, sql: str, target: int):
        import psycopg
        self.conn = psycopg.connect(f"host=127.0.0.1 user=postgres dbname={DB_NAME}", autocommit=True)
        self.sql, self.target = sql, target
        self.start = self.value()

    def value(self) -> int:
        return self.conn.execute(self.sql).fetchone()[0]

    def __call__(self) -> bool:
        return self.value() - self.start >= self.target


def prepared(members: int, units: int):
    """A fresh database seeded, each member's session minted, the ceiling's row made. Returns
    (app, steady (item, plan), sell-out (item, plan), sessions, the gunicorns' environment)."""
    url = fresh_database(DB_NAME)
    app, steady, sale, member_ids = seed(url, members, units)
    sessions = session_cookies(app, member_ids)
    with app.app_context():
        from mall.extensions import db
        db.engine.dispose()
    import psycopg
    with psycopg.connect(f"host=127.0.0.1 user=postgres dbname={DB_NAME}", autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_ceiling (id int PRIMARY KEY, hits bigint NOT NULL)")
        conn.execute("INSERT INTO bench_ceiling VALUES (1, 0) ON CONFLICT DO NOTHING")
    env = {"DATABASE_URL": url, "REDIS_URL": REDIS_URL, "SECRET_KEY": SECRET, "MALL_ENV": "production",
           "SESSION_COOKIE_SECURE": "0", "CEILING_DATABASE_URL": url}
    return app, steady, sale, sessions, env


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--units", type=int, default=1000, help="the sell-out item's stock")
    parser.add_argument("--seconds", type=int, default=10, help="length of the steady and refusal runs")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: `sudo apt-get install wrk` (or run `bash scripts/bench`)")

    app, (steady_item, steady_plan), (sale_item, sale_plan), sessions, env = prepared(args.members, args.units)
    app_port, ceiling_port = free_port(), free_port()
    servers = [serve("wsgi:app", app_port, env, args.workers, args.threads),
               serve("bench.ceiling:app", ceiling_port, env, args.workers, args.threads)]
    app_url, ceiling_url = f"http://127.0.0.1:{app_port}", f"http://127.0.0.1:{ceiling_port}"
    results = {}
    tmp = Path(tempfile.mkdtemp(prefix="bench-wrk-"))
    try:
        def checkout(name, item, plan, mode, run, per_thread=0):
            return lua_script(tmp, name, mode=mode, path=f"/catalog/{item}/buy", origin=app_url,
                              sessions=sessions, plan=plan, run=run, per_thread=per_thread)
        ceiling = lua_script(tmp, "ceiling", mode="ceiling", path="/ceiling", origin=ceiling_url, sessions=[])
        c = args.connections
        # Cold: the first second on workers that have served nothing yet.
        results["cold_app"] = wrk(checkout("cold", steady_item, steady_plan, "steady", "cold"), app_url,
                                  connections=c, seconds=1)
        results["cold_ceiling"] = wrk(ceiling, ceiling_url, connections=c, seconds=1)
        # Warm-up (discarded): every worker thread has its connections, templates, mappers.
        wrk(checkout("warm", steady_item, steady_plan, "steady", "warm"), app_url, connections=c, seconds=3)
        wrk(ceiling, ceiling_url, connections=c, seconds=3)

        results["steady_app"] = wrk(checkout("steady", steady_item, steady_plan, "steady", "steady"), app_url,
                                    connections=c, seconds=args.seconds)
        results["steady_ceiling"] = wrk(ceiling, ceiling_url, connections=c, seconds=args.seconds)

        per_thread = args.units // WRK_THREADS
        sold = Poll(f"SELECT sold + reserved FROM stock_levels WHERE item_id = {sale_item}", args.units)
        results["sellout_app"] = wrk(checkout("sellout", sale_item, sale_plan, "sellout", "sale", per_thread),
                                     app_url, connections=args.units, seconds=120, until=sold)
        hits = Poll("SELECT hits FROM bench_ceiling WHERE id = 1", args.units)
        once = lua_script(tmp, "ceiling_once", mode="ceiling_once", path="/ceiling", origin=ceiling_url,
                          sessions=[], per_thread=per_thread)
        results["sellout_ceiling"] = wrk(once, ceiling_url, connections=args.units, seconds=120, until=hits)

        results["refusals_app"] = wrk(checkout("refusals", sale_item, sale_plan, "refusals", "late"), app_url,
                                      connections=c, seconds=args.seconds)
        results["refusals_ceiling"] = wrk(ceiling, ceiling_url, connections=c, seconds=args.seconds)
    finally:
        for server in servers:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait()
        shutil.rmtree(tmp, ignore_errors=True)

    with app.app_context():
        from sqlalchemy import text

        from mall.audit import run_audit
        from mall.extensions import db
        db.session.remove()
        oversold = db.session.scalar(text(
            "SELECT coalesce(sum(greatest(sold + reserved - received, 0)), 0) FROM stock_levels"))
        sale_sold = db.session.scalar(text(f"SELECT sold + reserved FROM stock_levels WHERE item_id = {sale_item}"))
        negative = db.session.scalar(text("SELECT count(*) FROM points_accounts WHERE balance < 0"))
        audit_ok = not [f for f in run_audit() if f.violations]
        db.engine.dispose()

    for name, figures in results.items():
        print(f"{name:18} {json.dumps(figures)}", file=sys.stderr)
    print(json.dumps(summary(results, sale_sold, oversold, negative, audit_ok)))


def summary(r: dict, sale_sold: int, oversold: int, negative: int, audit_ok: bool) -> dict:
    def per_s(run, count):
        return round(run[count] / run["duration_s"], 1)

    steady, steady_c = per_s(r["steady_app"], "ok"), per_s(r["steady_ceiling"], "ok")
    units_s = round(sale_sold / r["sellout_app"]["done_s"], 1) if r["sellout_app"]["done_s"] else 0.0
    ceiling_units = r["sellout_ceiling"]["ok"]
    ceiling_units_s = round(ceiling_units / r["sellout_ceiling"]["done_s"], 1) if r["sellout_ceiling"]["done_s"] else 0.0
    refusals, refusals_c = per_s(r["refusals_app"], "refused"), per_s(r["refusals_ceiling"], "ok")
    ratio = lambda a, b: round(a / b, 3) if b else None  # noqa: E731
    return {
        "cold_first_second": {"checkouts": r["cold_app"]["ok"], "p99_ms": r["cold_app"]["p99_ms"],
                              "ceiling": r["cold_ceiling"]["ok"], "ceiling_p99_ms": r["cold_ceiling"]["p99_ms"]},
        "steady": {"checkouts_per_s": steady, "p50_ms": r["steady_app"]["p50_ms"], "p99_ms": r["steady_app"]["p99_ms"],
                   "other_statuses": r["steady_app"]["other"] + r["steady_app"]["refused"],
                   "ceiling_per_s": steady_c, "ceiling_p50_ms": r["steady_ceiling"]["p50_ms"],
                   "ceiling_p99_ms": r["steady_ceiling"]["p99_ms"]},
        "sellout": {"units": sale_sold, "seconds_to_last_unit": r["sellout_app"]["done_s"], "units_per_s": units_s,
                    "winners": r["sellout_app"]["ok"], "winners_p99_ms": r["sellout_app"]["p99_ms"],
                    "ceiling_seconds": r["sellout_ceiling"]["done_s"], "ceiling_per_s": ceiling_units_s,
                    "ceiling_p99_ms": r["sellout_ceiling"]["p99_ms"]},
        "refusals": {"refusals_per_s": refusals, "p50_ms": r["refusals_app"]["p50_ms"],
                     "p99_ms": r["refusals_app"]["p99_ms"], "other_statuses": r["refusals_app"]["ok"] + r["refusals_app"]["other"],
                     "ceiling_per_s": refusals_c, "ceiling_p99_ms": r["refusals_ceiling"]["p99_ms"]},
        "steady_ratio": ratio(steady, steady_c),
        "steady_p99_ratio": ratio(r["steady_app"]["p99_ms"], r["steady_ceiling"]["p99_ms"]),
        "sellout_ratio": ratio(units_s, ceiling_units_s),
        "refusals_ratio": ratio(refusals, refusals_c),
        "oversold": oversold, "negative_balances": negative, "audit_ok": audit_ok,
    }


if __name__ == "__main__":
    main()
