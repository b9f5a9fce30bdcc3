"""Where a successful checkout spends its CPU: cProfile over N warm checkouts (issue 15).

    .venv/bin/python bench/profile_checkout.py [--checkouts 300] [--top 25]

Seeds a fresh PostgreSQL database like bench/checkout_wrk.py (BENCH_DB + "_profile"), warms
the app with a few checkouts, then profiles N successful checkouts through the real view
(Flask test client: routing, session, CSRF, form, service, template-free HTMX redirect,
commit), with the CPU clock (time.process_time) as the profiler's timer so that other
processes on the machine don't inflate the figures. Prints the CPU per checkout, the SQL
statements per checkout, and the top entries by own time and by cumulative time.
"""
import argparse
import cProfile
import io
import os
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import checkout_wrk  # noqa: E402
from bench.flash_sale import fresh_database, session_cookies  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkouts", type=int, default=300)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--filter", action="append", help="only entries whose path matches (regex), e.g. mall/")
    args = parser.parse_args()
    checkout_wrk.DB_NAME = checkout_wrk.DB_NAME + "_profile"
    url = fresh_database(checkout_wrk.DB_NAME)
    app, (item, plan), _sale, ids = checkout_wrk.seed(url, 50, 10)
    sessions = session_cookies(app, ids)
    os.environ["SESSION_COOKIE_SECURE"] = "0"
    from sqlalchemy import event
    from mall import rawsql
    from mall.extensions import db
    statements = [0]
    held, taken_at = [], [None]  # how long each checkout holds the item's stock row lock

    def after_statement(conn, cursor, statement, *args):
        if "UPDATE stock_levels" in statement:
            taken_at[0] = time.perf_counter()

    def committed(conn):
        if taken_at[0] is not None:
            held.append(1000 * (time.perf_counter() - taken_at[0]))
            taken_at[0] = None
    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", lambda *a: statements.__setitem__(0, statements[0] + 1))
        # the fast path's raw statements (mall/rawsql.py) never reach the engine's events
        rawsql.observers.append(lambda sql, params: (statements.__setitem__(0, statements[0] + 1),
                                                     after_statement(None, None, sql)))
        event.listen(db.engine, "after_cursor_execute", after_statement)
        event.listen(db.engine, "commit", committed)
    client = app.test_client()

    def checkout(n):
        cookie, token = sessions[n % len(sessions)]
        client.set_cookie("session", cookie)
        client.set_cookie("mall_device", f"benchdev{n % len(sessions):06d}")  # each member on their own phone
        response = client.post(f"/catalog/{item}/buy", data={"csrf_token": token, "plan_id": plan, "quantity": 1,
                                                              "key": f"p{n}"},
                               headers={"HX-Request": "true", "Referer": "http://localhost/catalog"})
        assert response.status_code == 200 and response.headers.get("HX-Redirect"), response.status_code

    for n in range(len(sessions)):  # warm: every member's first checkout, the connection pool
        checkout(10_000 + n)
    held.clear()
    cpu = time.process_time()  # unprofiled first: the profiler itself costs about twice the work
    for n in range(args.checkouts):
        checkout(20_000 + n)
    plain_ms = 1000 * (time.process_time() - cpu) / args.checkouts
    held.sort()
    hold_ms = (held[len(held) // 2], held[int(len(held) * 0.99)])
    statements[0] = 0
    profiler = cProfile.Profile(time.process_time)
    cpu = time.process_time()
    profiler.enable()
    for n in range(args.checkouts):
        checkout(n)
    profiler.disable()
    cpu = time.process_time() - cpu
    print(f"{args.checkouts} checkouts: {plain_ms:.2f} ms CPU each ({1000 * cpu / args.checkouts:.2f} profiled), "
          f"{statements[0] / args.checkouts:.1f} SQL statements each; the stock row is locked from its UPDATE "
          f"to the commit for {hold_ms[0]:.2f} ms (p50), {hold_ms[1]:.2f} ms (p99), unprofiled, one at a time")
    for key in ("tottime", "cumulative"):
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        (stats if args.filter else stats.strip_dirs()).sort_stats(key).print_stats(*(args.filter or []), args.top)
        print("\n".join(line for line in out.getvalue().splitlines() if line.strip()
                        and not line.startswith(("   Ordered", "   List reduced"))))
    with app.app_context():
        db.engine.dispose()


if __name__ == "__main__":
    main()
