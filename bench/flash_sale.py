"""Flash-sale benchmark against the real stack: gunicorn workers + PostgreSQL + Redis.

    .venv/bin/python bench/flash_sale.py [--members 640] [--stock 100] [--attempts 10000] [--clients 64]

Seeds M members with points and one item with S units in a fresh database (schema by the
migrations), serves the app with gunicorn on 127.0.0.1, and sends a bounded load of real
HTTP checkouts (POST /catalog/<id>/buy with a CSRF token and a logged-in session, as a
phone would). Then, on the same stack, it measures a bare endpoint (bench/ceiling.py: one
Redis round trip + one single-row PostgreSQL transaction). The last line printed is one
JSON object with the figures.
"""
import argparse
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import http.client
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG = os.environ.get("BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9")
SECRET = "bench-" + secrets.token_hex(16)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fresh_database(name: str) -> str:
    import psycopg
    with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{PG}/{name}"


def bench_app(url: str):
    """The app on a fresh database: schema by the migrations, the bench's Redis db emptied.
    Call the seeding below inside `with app.app_context()`."""
    os.environ.update(DATABASE_URL=url, REDIS_URL=REDIS_URL, SECRET_KEY=SECRET, MALL_ENV="production")
    from flask_migrate import upgrade

    from mall import create_app
    app = create_app()
    with app.app_context():
        upgrade()
        app.extensions["mall.redis"].flushdb()
    return app


def seed_members(count: int, *, points: int, now, prefix: str, joined) -> list[int]:
    """`count` members, each credited `points` through the ledger (one lot, a year to live);
    returns their ids. Users go in with one Core INSERT (no ORM bulk RETURNING)."""
    from sqlalchemy import insert, text

    from mall.accounts.models import User
    from mall.accounts.services import _hasher
    from mall.extensions import db
    from mall.points.ledger import credit_points, open_account
    password = _hasher().hash(secrets.token_hex(8))  # nobody logs in with it; sessions are minted
    db.session.connection().execute(insert(User.__table__), [
        dict(email=f"{prefix.lower()}{i}@bench.example.com", password_hash=password, display_name=f"{prefix}{i}",
             member_code=f"{prefix}{i:07d}", role="member", locale="zh_Hans", created_at=joined)
        for i in range(count)])
    ids = list(db.session.scalars(text("SELECT id FROM users ORDER BY id")))
    for member_id in ids:
        open_account(member_id, now)
        credit_points(member_id, points, reason="welcome", source="bench", key=str(member_id),
                      expires_at=now + timedelta(days=365), now=now)
    return ids


def seed(url: str, members: int, stock: int):
    """Schema by migrations, then data through the app's own services."""
    app = bench_app(url)  # first: the app's settings are read from the environment it sets
    from mall.extensions import db
    from tests.factories import make_item, make_tiers

    with app.app_context():
        now = datetime.now(timezone.utc)
        make_tiers()
        item = make_item(now, name="Flash-sale speaker", points=500, stock=stock)
        ids = seed_members(members, points=5000, now=now, prefix="B", joined=now)
        db.session.commit()
        return app, item.id, item.plans[0].id, ids


def session_cookies(app, member_ids):
    """A signed session per member, as Flask-Login would set after a login, plus the CSRF
    token that session expects (what a real browser would have after loading the page)."""
    from itsdangerous import URLSafeTimedSerializer
    signer = app.session_interface.get_signing_serializer(app)
    csrf_signer = URLSafeTimedSerializer(app.secret_key, salt="wtf-csrf-token")
    sessions = []
    for member_id in member_ids:
        raw = secrets.token_hex(20)
        # "_user_id": id:session version (new members: 1). No "_id" (Flask-Login's hash of the
        # client's address and User-Agent, unknown here), so the session is the one a browser
        # holds after its first request with another identifier: "_fresh" already False. Minted
        # fresh, every request would mark it stale and rewrite the cookie (about 0.3 ms of CPU),
        # which a real member's checkout doesn't do.
        cookie = signer.dumps({"_user_id": f"{member_id}:1", "_fresh": False,
                               "csrf_token": raw, "locale": "zh_Hans"})  # the login view copies the account's language
        sessions.append((cookie, csrf_signer.dumps(raw)))
    return sessions


def serve(app_path: str, port: int, env: dict, workers: int, threads: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", app_path, "-b", f"127.0.0.1:{port}", "-w", str(workers),
         "-k", "gthread", "--threads", str(threads), "--keep-alive", "30", "--log-level", "warning",
         "--backlog", "2048"],
        cwd=ROOT, env={**os.environ, **env}, start_new_session=True)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"gunicorn {app_path} did not start")


def load(port: int, clients: int, attempts: int, make_request):
    """`clients` threads on keep-alive connections share `attempts` requests."""
    latencies, statuses = [], []
    lock, counter = threading.Lock(), iter(range(attempts))

    def worker(n):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                break
            method, path, body, headers = make_request(n, i)
            start = time.perf_counter()
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                status = 0
            elapsed = (time.perf_counter() - start) * 1000
            with lock:
                latencies.append(elapsed)
                statuses.append(status)
        conn.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - started, latencies, statuses


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=640)
    parser.add_argument("--stock", type=int, default=100)
    parser.add_argument("--attempts", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()

    url = fresh_database("mall_bench")
    app, item_id, plan_id, member_ids = seed(url, args.members, args.stock)
    sessions = session_cookies(app, member_ids)
    env = {"DATABASE_URL": url, "REDIS_URL": REDIS_URL, "SECRET_KEY": SECRET, "MALL_ENV": "production",
           "SESSION_COOKIE_SECURE": "0"}

    port = free_port()
    server = serve("wsgi:app", port, env, args.workers, args.threads)
    try:
        def checkout(n, i):
            cookie, token = sessions[i % len(sessions)]
            body = urlencode({"csrf_token": token, "plan_id": plan_id, "quantity": 1, "key": f"{i}-{n}"})
            return "POST", f"/catalog/{item_id}/buy", body, {
                "Cookie": f"session={cookie}", "Content-Type": "application/x-www-form-urlencoded",
                "Referer": f"http://127.0.0.1:{port}/catalog/{item_id}",
                # what the buy form sends: an HTMX request that swaps the form itself
                "HX-Request": "true", "HX-Target": "buy"}
        load(port, 8, 16, lambda n, i: ("GET", "/catalog", None, {}))  # warm up workers
        seconds, latencies, statuses = load(port, args.clients, args.attempts, checkout)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait()

    checkouts = statuses.count(200)  # HTMX gets HX-Redirect to the order page
    with app.app_context():
        from sqlalchemy import text
        from mall.extensions import db
        from mall.audit import run_audit
        db.session.remove()
        sold, reserved, received = db.session.execute(text(
            "SELECT sold, reserved, received FROM stock_levels WHERE item_id = :i"), {"i": item_id}).one()
        negative = db.session.scalar(text("SELECT count(*) FROM points_accounts WHERE balance < 0"))
        audit_ok = not [f for f in run_audit() if f.violations]
        db.engine.dispose()

    # The ceiling: same gunicorn settings, same PostgreSQL and Redis, no checkout logic.
    import psycopg
    with psycopg.connect("host=127.0.0.1 user=postgres dbname=mall_bench", autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_ceiling (id int PRIMARY KEY, hits bigint NOT NULL)")
        conn.execute("INSERT INTO bench_ceiling VALUES (1, 0) ON CONFLICT DO NOTHING")
    port = free_port()
    server = serve("bench.ceiling:app", port, {**env, "CEILING_DATABASE_URL": url}, args.workers, args.threads)
    try:
        load(port, 8, 16, lambda n, i: ("POST", "/ceiling", b"", {}))
        c_seconds, c_latencies, c_statuses = load(port, args.clients, args.attempts,
                                                  lambda n, i: ("POST", "/ceiling", b"", {}))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait()

    attempts_per_s = len(statuses) / seconds
    ceiling_per_s = c_statuses.count(200) / c_seconds
    other = {str(s): statuses.count(s) for s in sorted(set(statuses)) if s not in (200, 409)}
    won = [l for l, s in zip(latencies, statuses) if s == 200]
    lost = [l for l, s in zip(latencies, statuses) if s != 200]
    print(f"winners p50/p99 {percentile(won, 50):.0f}/{percentile(won, 99):.0f} ms; "
          f"others p50/p99 {percentile(lost, 50):.0f}/{percentile(lost, 99):.0f} ms; "
          f"first 500 p99 {percentile(latencies[:500], 99):.0f} ms, rest p99 {percentile(latencies[500:], 99):.0f} ms",
          file=sys.stderr)
    print(f"checkout: {len(statuses)} attempts in {seconds:.1f}s, {checkouts} orders, statuses other than "
          f"200/409: {other or 'none'}; ceiling: {len(c_statuses)} in {c_seconds:.1f}s, p50/p95/p99 "
          f"{percentile(c_latencies, 50):.0f}/{percentile(c_latencies, 95):.0f}/{percentile(c_latencies, 99):.0f} ms "
          f"(Little's law: {args.clients} clients / {ceiling_per_s:.0f} per s = "
          f"{1000 * args.clients / ceiling_per_s:.0f} ms mean latency with no checkout logic at all)",
          file=sys.stderr)
    print(json.dumps({
        "attempts_per_s": round(attempts_per_s, 1),
        "checkouts_per_s": round(checkouts / seconds, 2),
        "p50_ms": round(statistics.median(latencies), 1),
        "p95_ms": round(percentile(latencies, 95), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
        "sold": sold + reserved,
        "stock": received,
        "oversold": max(0, sold + reserved - received),
        "negative_balances": negative,
        "audit_ok": audit_ok,
        "ceiling_per_s": round(ceiling_per_s, 1),
        "ratio": round(attempts_per_s / ceiling_per_s, 3),
    }))


if __name__ == "__main__":
    main()
