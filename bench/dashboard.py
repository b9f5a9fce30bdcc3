"""HQ dashboard benchmark: every dashboard request against 1,000,000 ledger entries.

    .venv/bin/python bench/dashboard.py [--entries 1000000] [--members 50000] [--samples 40] [--fresh]

Seeds (or reuses, when it already holds the entries) the PostgreSQL database
`mall_bench_dashboard`: schema by the migrations, then members, stores and ledger entries
spread over the last 365 days written by `INSERT ... SELECT generate_series(...)` in SQL
(a million rows in seconds; the app's services would take an hour). The data is synthetic:
entries carry realistic kinds, reasons, stores, categories and campaigns, but running
balances are not kept (`mall audit` is not meaningful on it).

Then it does what production does before HQ looks: rolls the closed days up
(`analytics.roll_up`) and computes segments and ROI (`mall jobs`), and times those. It
serves the app with gunicorn and times each dashboard request (a logged-in HQ session,
`--samples` sequential requests after warm-up). The last line printed is one JSON object
with `<request>_p50_ms` and `<request>_p95_ms` for each request (target: under 500 ms).
Needs PostgreSQL and Redis on 127.0.0.1 (BENCH_PG, BENCH_REDIS_URL to change).
"""
import argparse
import http.client
import json
import os
import secrets
import signal
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.flash_sale import free_port, percentile, serve  # noqa: E402

PG = os.environ.get("BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")
DB_NAME = "mall_bench_dashboard"
SECRET = "bench-dashboard-not-secret"  # fixed, so a reused database's sessions stay valid
REGIONS = ["East", "North", "South", "West", "Central"]
CATEGORIES = ["home", "kitchen", "beauty", "digital", "fresh", "vouchers", "kids", "travel"]

REQUESTS = {
    "dashboard": ("/hq", {}),
    "dashboard_year": ("/hq?period=365d", {}),
    "dashboard_all_fragment": ("/hq?period=all", {"HX-Request": "true"}),
    "filter_store": ("/hq?period=365d&store=3", {"HX-Request": "true"}),
    "filter_region_category": ("/hq?period=90d&region=East&category=fresh&grain=week", {"HX-Request": "true"}),
    "filter_custom_range": ("/hq?start=2026-01-01&end=2026-03-31", {"HX-Request": "true"}),
    "csv_trend": ("/hq/export/trend.csv?period=365d", {}),
    "csv_store": ("/hq/export/store.csv?period=all", {}),
    "csv_rule": ("/hq/export/rule.csv?period=365d", {}),
    "budgets": ("/hq/budgets", {}),
    "grants": ("/hq/grants", {}),
    "segments_roi": ("/hq/segments", {}),
    "segment_members": ("/hq/segments/loyal", {}),
    "risk_queue": ("/hq/risk", {}),
    "clusters": ("/hq/risk/clusters", {}),
}


def _psycopg(dbname: str):
    import psycopg
    return psycopg.connect(f"host=127.0.0.1 user=postgres dbname={dbname}", autocommit=True)


def database(fresh: bool) -> str:
    with _psycopg("postgres") as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB_NAME,)).fetchone()
        if fresh or not exists:
            conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    return f"{PG}/{DB_NAME}"


def app_for(url: str):
    os.environ.update(DATABASE_URL=url, REDIS_URL=REDIS_URL, SECRET_KEY=SECRET, MALL_ENV="production",
                      SESSION_COOKIE_SECURE="0")
    from mall import create_app
    return create_app()


def seed(app, entries: int, members: int) -> dict:
    """Members, stores, budgets and `entries` ledger lines, in SQL. Returns timings."""
    from flask_migrate import upgrade
    from sqlalchemy import text

    from mall.accounts.services import _hasher
    from mall.extensions import db
    from tests.factories import make_tiers

    with app.app_context():
        upgrade()
        count = db.session.scalar(text("SELECT count(*) FROM ledger_entries"))
        if count >= entries:
            return {"seeded": False, "entries": count}
        started = time.perf_counter()
        make_tiers()
        now = datetime.now(timezone.utc)
        password = _hasher().hash(secrets.token_hex(8))
        db.session.execute(text(
            "INSERT INTO stores (code, name, name_zh, region, pickup_point) "
            "SELECT 'B-' || n, 'Store ' || n, n || ' 号店', (CAST(:regions AS text[]))[1 + n % 5], true "
            "FROM generate_series(1, 20) n"), {"regions": REGIONS})
        db.session.execute(text(
            "INSERT INTO users (email, password_hash, display_name, member_code, role, created_at) "
            "SELECT 'm' || n || '@bench.example.com', :pw, 'Member ' || n, 'D' || lpad(n::text, 8, '0'), "
            "'member', :now - make_interval(days => 30 + n % 700) FROM generate_series(1, :members) n"),
            {"pw": password, "now": now, "members": members})
        db.session.execute(text(
            "INSERT INTO users (email, password_hash, display_name, member_code, role, created_at) "
            "VALUES ('hq@bench.example.com', :pw, 'HQ', 'DHQ0000001', 'hq', :now)"), {"pw": password, "now": now})
        # One entry per n: ~70% purchase earns (store, category, spend), ~8% campaign and task
        # earns, ~17% redemptions, ~3% expiries, ~2% refunds, spread over 365 days.
        db.session.execute(text("""
            INSERT INTO ledger_entries (member_id, kind, points, balance_after, reason, reference, detail,
                                        source, idempotency_key, spend_minor, store_id, created_at)
            SELECT 1 + (g.n * 31 % :members),
                   CASE WHEN r < 0.78 THEN 'earn' WHEN r < 0.95 THEN 'spend' WHEN r < 0.98 THEN 'expire'
                        ELSE 'refund' END,
                   CASE WHEN r < 0.70 THEN 50 + (n % 600) WHEN r < 0.78 THEN 5 + (n % 200)
                        WHEN r < 0.95 THEN -(500 + (n % 3000)) WHEN r < 0.98 THEN -(10 + n % 300)
                        ELSE 100 + n % 900 END,
                   0,
                   CASE WHEN r < 0.70 THEN 'purchase' WHEN r < 0.74 THEN 'bonus' WHEN r < 0.76 THEN 'checkin'
                        WHEN r < 0.78 THEN 'referral' WHEN r < 0.95 THEN 'redeem' WHEN r < 0.98 THEN 'expired'
                        ELSE 'refund' END,
                   'B' || n,
                   CASE WHEN r < 0.70 THEN json_build_object('category', (CAST(:cats AS text[]))[1 + n % 8], 'spend_minor',
                                                             (50 + n % 600) * 100)
                        WHEN r < 0.74 THEN json_build_object('campaign', (ARRAY['spring-double', 'wednesday-fresh',
                                                             'new-category'])[1 + n % 3])
                        ELSE '{}'::json END,
                   'bench', 'b' || n,
                   CASE WHEN r < 0.70 THEN (50 + n % 600) * 100 ELSE 0 END,
                   CASE WHEN r < 0.76 THEN 1 + g.n % 20 END,
                   :now - make_interval(secs => (n::bigint * 7919 % (365 * 86400)))
            FROM (SELECT n, random() AS r FROM generate_series(1, :entries) n) g
        """), {"cats": CATEGORIES, "now": now, "entries": entries, "members": members})
        db.session.execute(text(
            "INSERT INTO points_accounts (member_id, balance, updated_at) "
            "SELECT u.id, GREATEST(COALESCE(SUM(l.points), 0), 0), :now FROM users u "
            "LEFT JOIN ledger_entries l ON l.member_id = u.id WHERE u.role = 'member' GROUP BY u.id"), {"now": now})
        # Budgets for every store; a few near or past their limit, so the warnings show.
        db.session.execute(text(
            "INSERT INTO store_budgets (store_id, monthly_points, when_exhausted, updated_at) "
            "SELECT id, 100000, CASE WHEN id % 2 = 0 THEN 'hold' ELSE 'refuse' END, :now FROM stores"), {"now": now})
        db.session.execute(text(
            "INSERT INTO budget_months (store_id, month, limit_points, used_points, over_points) "
            "SELECT id, to_char(:now AT TIME ZONE 'UTC', 'YYYY-MM'), 100000, LEAST(100000, id * 5000), 0 FROM stores"),
            {"now": now})
        db.session.commit()
        db.session.execute(text("ANALYZE"))
        return {"seeded": True, "entries": entries, "seed_s": round(time.perf_counter() - started, 1)}


def prepare(app) -> dict:
    """What `mall jobs` and the first dashboard view do: roll closed days up, segments, ROI."""
    from sqlalchemy import text

    from mall.extensions import db
    from mall.hq import analytics, segments
    with app.app_context():
        now = datetime.now(timezone.utc)
        started = time.perf_counter()
        analytics.roll_up(now)
        db.session.commit()
        rolled = time.perf_counter() - started
        started = time.perf_counter()
        segments.refresh_all(now)
        db.session.commit()
        refreshed = time.perf_counter() - started
        db.session.execute(text("ANALYZE ledger_daily"))
        db.session.commit()
        rows = db.session.scalar(text("SELECT count(*) FROM ledger_daily"))
        hq_id = db.session.scalar(text("SELECT id FROM users WHERE role = 'hq' ORDER BY id LIMIT 1"))
        db.engine.dispose()
    return {"rollup_s": round(rolled, 2), "segments_roi_s": round(refreshed, 2), "rollup_rows": rows,
            "hq_id": hq_id}


def hq_cookie(app, hq_id: int) -> str:
    signer = app.session_interface.get_signing_serializer(app)
    # Flask-Login's id is "<user id>:<session version>"; the seeded account was never logged out.
    return signer.dumps({"_user_id": f"{hq_id}:1", "_fresh": True, "_id": secrets.token_hex(8)})


def measure(port: int, cookie: str, samples: int) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    results = {}
    for name, (path, extra) in REQUESTS.items():
        headers = {"Cookie": f"session={cookie}", **extra}
        timings = []
        for i in range(samples + 3):
            start = time.perf_counter()
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            body = response.read()
            elapsed = (time.perf_counter() - start) * 1000
            if response.status != 200:
                raise SystemExit(f"{name}: {path} answered {response.status}: {body[:300]!r}")
            if i >= 3:  # the first requests warm the workers' caches
                timings.append(elapsed)
        results[name] = timings
        print(f"{name:<24} p50 {statistics.median(timings):7.1f} ms  p95 {percentile(timings, 95):7.1f} ms  "
              f"({len(body):,} bytes)  {path}", file=sys.stderr)
    conn.close()
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--members", type=int, default=50_000)
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--fresh", action="store_true", help="drop and reseed the benchmark database")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()

    url = database(args.fresh)
    app = app_for(url)
    seeded = seed(app, args.entries, args.members)
    print(f"seed: {seeded}", file=sys.stderr)
    prepared = prepare(app)
    print(f"prepare: {prepared}", file=sys.stderr)
    cookie = hq_cookie(app, prepared["hq_id"])
    env = {"DATABASE_URL": url, "REDIS_URL": REDIS_URL, "SECRET_KEY": SECRET, "MALL_ENV": "production",
           "SESSION_COOKIE_SECURE": "0"}
    port = free_port()
    server = serve("wsgi:app", port, env, args.workers, args.threads)
    try:
        results = measure(port, cookie, args.samples)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait()
    line = {"entries": seeded["entries"], "rollup_s": prepared["rollup_s"],
            "segments_roi_s": prepared["segments_roi_s"]}
    for name, timings in results.items():
        line[f"{name}_p50_ms"] = round(statistics.median(timings), 1)
        line[f"{name}_p95_ms"] = round(percentile(timings, 95), 1)
    line["max_p95_ms"] = max(v for k, v in line.items() if k.endswith("_p95_ms"))
    line["under_500_ms"] = line["max_p95_ms"] < 500
    print(json.dumps(line))


if __name__ == "__main__":
    main()
