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
    parser.add_argument("--breakdown", action="store_true",
                        help="unprofiled CPU of each request hook and of the view's steps (nested figures overlap)")
    parser.add_argument("--callees", help="also print what functions matching this regex call, e.g. _plan_form")
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
    # Where the unprofiled CPU goes: the server (app.wsgi_app) against the test client that
    # drives it, and inside the server the order write (orders.place_order) against the rest
    # of the request (routing, session, login, CSRF, form, item load, hooks, answer).
    from mall.checkout import orders
    spent = {"server": 0.0, "place_order": 0.0}

    def timed(name, function):
        def run(*args, **kwargs):
            started = time.process_time()
            try:
                return function(*args, **kwargs)
            finally:
                spent[name] += time.process_time() - started
        return run
    app.wsgi_app = timed("server", app.wsgi_app)
    orders.place_order = timed("place_order", orders.place_order)
    if args.breakdown:
        _break_down(app, spent, timed)

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
    spent.update(dict.fromkeys(spent, 0.0))
    cpu = time.process_time()  # unprofiled first: the profiler itself costs about twice the work
    for n in range(args.checkouts):
        checkout(20_000 + n)
    plain_ms = 1000 * (time.process_time() - cpu) / args.checkouts
    server_ms, order_ms = (1000 * spent[k] / args.checkouts for k in ("server", "place_order"))
    steps = {k: 1000 * v / args.checkouts for k, v in spent.items() if k not in ("server", "place_order")}
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
    print(f"unprofiled CPU per checkout: server {server_ms:.2f} ms = place_order {order_ms:.2f} ms + the rest of "
          f"the request {server_ms - order_ms:.2f} ms; the test client {plain_ms - server_ms:.2f} ms")
    for name, ms in sorted(steps.items(), key=lambda kv: -kv[1]):
        print(f"  {ms:6.3f} ms  {name}")
    for key in ("tottime", "cumulative"):
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        (stats if args.filter else stats.strip_dirs()).sort_stats(key).print_stats(*(args.filter or []), args.top)
        print("\n".join(line for line in out.getvalue().splitlines() if line.strip()
                        and not line.startswith(("   Ordered", "   List reduced"))))
    if args.callees:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).strip_dirs().sort_stats("cumulative").print_callees(args.callees)
        print(out.getvalue())
    with app.app_context():
        db.engine.dispose()


def _break_down(app, spent, timed):
    """Wrap every request hook and the checkout view's steps in `timed` (CPU accumulators)."""
    from mall.checkout import orders, views

    def label(f):
        f = getattr(f, "func", f)  # a functools.partial
        return f"{getattr(f, '__module__', '')}.{getattr(f, '__qualname__', repr(f))}"

    def wrap(name, function):
        spent.setdefault(name, 0.0)
        return timed(name, function)
    for kind in ("before_request_funcs", "after_request_funcs", "teardown_request_funcs"):
        for scope, functions in getattr(app, kind).items():
            getattr(app, kind)[scope] = [wrap(f"{kind.split('_')[0]} {scope or 'app'}: {label(f)}", f)
                                         for f in functions]
    app.teardown_appcontext_funcs[:] = [wrap(f"teardown_appcontext {label(f)}", f)
                                        for f in app.teardown_appcontext_funcs]
    interface = app.session_interface
    interface.open_session = wrap("session open", interface.open_session)
    interface.save_session = wrap("session save", interface.save_session)
    app.login_manager._load_user = wrap("login: load user", app.login_manager._load_user)
    app.view_functions["checkout.buy_now"] = wrap("view checkout.buy_now (all)", app.view_functions["checkout.buy_now"])
    for name in ("_plan_form", "_kind_step", "_to_order", "_place_args", "_line"):
        setattr(views, name, wrap(f"view {name}", getattr(views, name)))
    orders.price = wrap("place_order: price (quotes)", orders.price)
    views.PlanForm.validate = wrap("view PlanForm.validate", views.PlanForm.validate)
    views.PlanForm = wrap("view PlanForm(...)", views.PlanForm)
    views.item_with_plans = wrap("view item_with_plans", views.item_with_plans)
    from mall.accounts import services
    services.user_for_session = wrap("login: user_for_session (the query)", services.user_for_session)
    app.full_dispatch_request = wrap("flask full_dispatch_request", app.full_dispatch_request)
    app.finalize_request = wrap("flask finalize_request (after hooks, session save)", app.finalize_request)


if __name__ == "__main__":
    main()
