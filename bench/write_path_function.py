"""What a PL/pgSQL function for the checkout's write path would save (issue 15), measured.

    .venv/bin/python bench/write_path_function.py [--seconds 10] [--rounds 2] [--threads 8]

The fast path (mall/checkout/fast_path.py) sends a checkout's writes as five prepared
statements in one transaction: BEGIN, the account row + live lots locked, the order + line +
events + points spend, risk screening's origin + sightings + counts, the notification, the
stock hold, COMMIT. This bench runs exactly those SQL strings (imported from the app's
modules, so it measures what the app sends) against a function that runs the same
statements inside PostgreSQL, generated from the same strings, with the FIFO choice of lots
done in PL/pgSQL:

- statements: the app's seven round trips, on psycopg with prepared statements, as rawsql.py
  sends them (the FIFO choice in Python, mall.points.ledger.fifo_takes);
- function: BEGIN, SELECT checkout_write(...), COMMIT (three round trips);
- function_autocommit: SELECT checkout_write(...) alone (one round trip: its own transaction).

Everything else a checkout does (Flask, the member row, pricing, Redis, the receivers) is
left out on purpose: the difference between the variants is what the function would take
off a checkout. Each variant runs `--threads` client threads (own connection, own members)
for `--seconds`, in turn, `--rounds` times; the CPU of this process and of PostgreSQL's
backends is read from /proc before and after each run.

The last line is one JSON object: per variant, checkouts/s and CPU ms per checkout (client,
PostgreSQL), medians over the rounds, and `audit_ok` (`mall audit` after all the runs: the
function's rows are the statements' rows, or the audit would find them out).
"""
import argparse
import itertools
import json
import os
import re
import statistics
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import checkout_wrk as cw  # noqa: E402
from bench.cpu_by_process import ticks  # noqa: E402
from bench.flash_sale import fresh_database  # noqa: E402

DB_NAME = cw.DB_NAME + "_fn"


def app_statements():
    from mall.checkout.fast_path import _WRITE_SQL
    from mall.inventory.reservations import _HOLD_SQL
    from mall.notifications.services import _NOTIFY_SQL
    from mall.points.ledger import _LOCK_WITH_LOTS_SQL
    from mall.risk.services import _SCREEN_SQL
    return {"lock": _LOCK_WITH_LOTS_SQL, "write": _WRITE_SQL, "screen": _SCREEN_SQL, "notify": _NOTIFY_SQL,
            "hold": _HOLD_SQL["sold"]}


# The function's parameters: the write statement's own, plus what screening, the
# notification and the hold need. Each app statement's %(name)s becomes one of these, or a
# value the function computed (order id, lots), by the renames below.
PARAMS = [
    ("member_id", "integer"), ("number", "varchar"), ("status", "varchar"), ("points", "integer"),
    ("cash", "integer"), ("payment_mode", "varchar"), ("key", "varchar"), ("reserved_until", "timestamptz"),
    ("now", "timestamptz"), ("item_id", "integer"), ("plan_id", "integer"), ("plan_kind", "varchar"),
    ("item_name", "varchar"), ("item_kind", "varchar"), ("quantity", "integer"), ("offset_points", "integer"),
    ("line_points", "integer"), ("line_cash", "integer"), ("ev_kinds", "varchar[]"),
    ("ev_actor_ids", "integer[]"), ("ev_actors", "varchar[]"), ("ev_notes", "varchar[]"), ("d_item", "text"),
    ("d_item_zh", "text"), ("plans", "text"), ("category", "text"), ("ip", "varchar"), ("device", "varchar"),
    ("notify_kind", "varchar"), ("notify_key", "varchar"), ("notify_params", "text"), ("reachable", "varchar"),
    ("until", "timestamptz"), ("stock_kind", "varchar"), ("reservation_status", "varchar"),
]
RENAMES = {
    "lock": {},
    "write": {"lot_ids": "v_lot_ids", "takes": "v_takes"},
    "screen": {"order_id": "v_order_id", "since": "(p_now - interval '24 hours')"},
    "notify": {"kind": "p_notify_kind", "key": "(p_notify_key || v_order_id || ':ready_for_pickup')",
               "params": "p_notify_params"},
    "hold": {"order_id": "v_order_id", "quantity": "p_quantity", "status": "p_reservation_status",
             "kind": "p_stock_kind", "reference": "('order:' || v_order_id)"},
}


def plpgsql(sql: str, step: str) -> str:
    renames = RENAMES[step]
    return re.sub(r"%\((\w+)\)s", lambda m: renames.get(m.group(1), "p_" + m.group(1)), sql).strip()


def function_sql() -> str:
    s = app_statements()
    args = ", ".join(f"p_{name} {kind}" for name, kind in PARAMS)
    return f"""
CREATE OR REPLACE FUNCTION checkout_write({args})
RETURNS TABLE (order_id integer, entry_id integer, seen_device bigint, seen_ip bigint, recent bigint,
               shared bigint, notification_id integer, taken bigint)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
  r record;  -- not `lot`: the lock statement names its lateral join so
  v_found boolean := false;
  v_left integer := p_points;
  v_take integer;
  v_lot_ids integer[] := '{{}}';
  v_takes integer[] := '{{}}';
  v_order_id integer; v_line_id integer; v_event_ids integer[]; v_entry_id integer;
  v_seen_device bigint; v_seen_ip bigint; v_recent bigint; v_shared bigint;
  v_notification_id integer; v_visible boolean; v_email_state varchar; v_taken bigint;
BEGIN
  -- the account row and live lots, locked; the lots taken soonest-expiring first (fifo_takes)
  FOR r IN {plpgsql(s["lock"], "lock")} LOOP
    v_found := true;
    CONTINUE WHEN r.id IS NULL OR v_left = 0;
    IF r.expires_at <= p_now THEN RAISE EXCEPTION 'lapsed lot: the ORM path spends'; END IF;
    v_take := least(r.remaining, v_left);
    v_lot_ids := v_lot_ids || r.id; v_takes := v_takes || v_take; v_left := v_left - v_take;
  END LOOP;
  IF NOT v_found OR v_left > 0 THEN RAISE EXCEPTION 'no account or lots short'; END IF;
  {plpgsql(s["write"], "write")}
  INTO v_order_id, v_line_id, v_event_ids, v_entry_id;
  IF v_order_id IS NULL THEN RETURN; END IF;  -- a replay: nothing written
  IF v_entry_id IS NULL THEN RAISE EXCEPTION 'insufficient points'; END IF;
  {plpgsql(s["screen"], "screen")}
  INTO v_seen_device, v_seen_ip, v_recent, v_shared;
  {plpgsql(s["notify"], "notify")}
  INTO v_notification_id, v_visible, v_email_state;
  {plpgsql(s["hold"], "hold")}
  INTO v_taken;
  IF v_taken = 0 THEN RAISE EXCEPTION 'out of stock'; END IF;
  RETURN QUERY SELECT v_order_id, v_entry_id, v_seen_device, v_seen_ip, v_recent, v_shared,
                      v_notification_id, v_taken;
END
$fn$;
"""


class Checkouts:
    """The parameters of one bench checkout of the steady item by `member_id`."""

    def __init__(self, item: dict):
        self.item = item
        self.serial = itertools.count()

    def params(self, member_id: int, device: str, now: datetime | None = None) -> dict:
        n = next(self.serial)
        now = now or datetime.now(timezone.utc)
        it = self.item
        return {
            "member_id": member_id, "number": f"PF{n:012d}", "status": "ready", "points": it["points"], "cash": 0,
            "payment_mode": "none", "key": f"fn{n}", "reserved_until": None, "now": now, "item_id": it["id"],
            "plan_id": it["plan_id"], "plan_kind": it["plan_kind"], "item_name": it["name"], "item_kind": it["kind"],
            "quantity": 1, "offset_points": 0, "line_points": it["points"], "line_cash": 0,
            "ev_kinds": ["placed", "ready_for_pickup"], "ev_actor_ids": [member_id, None],
            "ev_actors": ["member", "system"], "ev_notes": ["", "paid in points"],
            "d_item": f"{it['name']} ×1", "d_item_zh": f"{it['name_zh'] or it['name']} ×1",
            "plans": json.dumps([it["plan_kind"]]), "category": it["category"], "ip": None, "device": device,
            "notify_kind": "order_status", "notify_key": "order:",
            "notify_params": json.dumps({"order": f"PF{n:012d}", "status": "ready",
                                         "items": [{"name": it["name"], "quantity": 1}]}),
            "reachable": "pending", "until": now + timedelta(minutes=10), "stock_kind": "sell",
            "reservation_status": "confirmed",
        }


def by_statements(conn, sql, p):
    from mall.points.ledger import fifo_takes
    with conn.transaction():
        rows = conn.execute(sql["lock"], {"member_id": p["member_id"]}, prepare=True).fetchall()
        takes = fifo_takes([(r[2], r[3], r[4]) for r in rows], p["points"], p["now"])
        row = conn.execute(sql["write"], {**p, "lot_ids": [t[0] for t in takes], "takes": [t[1] for t in takes]},
                           prepare=True).fetchone()
        order_id = row[0]
        conn.execute(sql["screen"], {"order_id": order_id, "member_id": p["member_id"], "ip": p["ip"],
                                     "device": p["device"], "now": p["now"],
                                     "since": p["now"] - timedelta(hours=24)}, prepare=True).fetchone()
        conn.execute(sql["notify"], {"member_id": p["member_id"], "kind": p["notify_kind"],
                                     "key": f"order:{order_id}:ready_for_pickup", "params": p["notify_params"],
                                     "now": p["now"], "reachable": p["reachable"]}, prepare=True).fetchone()
        taken = conn.execute(sql["hold"], {"order_id": order_id, "item_id": p["item_id"], "quantity": 1,
                                           "until": p["until"], "now": p["now"], "status": p["reservation_status"],
                                           "kind": p["stock_kind"], "reference": f"order:{order_id}"},
                             prepare=True).fetchone()[0]
        assert taken == 1


CALL = "SELECT * FROM checkout_write(" + ", ".join(f"%({name})s" for name, _ in PARAMS) + ")"


def by_function(conn, _sql, p):
    with conn.transaction():
        assert conn.execute(CALL, p, prepare=True).fetchone()[-1] == 1


def by_function_autocommit(conn, _sql, p):
    assert conn.execute(CALL, p, prepare=True).fetchone()[-1] == 1


VARIANTS = {"statements": (by_statements, False), "function": (by_function, False),
            "function_autocommit": (by_function_autocommit, True)}


def run(variant: str, members: list, checkouts: Checkouts, *, threads: int, seconds: float) -> dict:
    import psycopg
    step, autocommit = VARIANTS[variant]
    sql = app_statements()
    done, stop = [0] * threads, time.perf_counter() + seconds
    conns = [psycopg.connect(f"host=127.0.0.1 user=postgres dbname={DB_NAME}", autocommit=autocommit)
             for _ in range(threads)]
    for conn in conns:  # warm: every statement prepared on every connection
        for _ in range(6):
            step(conn, sql, checkouts.params(*members[0]))

    def client(t: int):
        mine = members[t::threads]
        for member_id, device in itertools.cycle(mine):
            if time.perf_counter() >= stop:
                return
            step(conns[t], sql, checkouts.params(member_id, device))
            done[t] += 1

    hz = os.sysconf("SC_CLK_TCK")
    pg_before, cpu_before, started = ticks()["postgres"], time.process_time(), time.perf_counter()
    stop = started + seconds
    pool = [threading.Thread(target=client, args=(t,)) for t in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    elapsed, cpu, pg = time.perf_counter() - started, time.process_time() - cpu_before, ticks()["postgres"] - pg_before
    for conn in conns:
        conn.close()
    total = sum(done)
    return {"checkouts_per_s": round(total / elapsed, 1), "client_cpu_ms": round(cpu * 1000 / total, 3),
            "postgres_cpu_ms": round(pg / hz * 1000 / total, 3)}


def item_facts(item, plan) -> dict:
    return {"id": item.id, "plan_id": plan.id, "plan_kind": plan.kind, "name": item.name, "name_zh": item.name_zh,
            "kind": item.kind, "category": item.category.slug if item.category else "", "points": item.points_price}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()

    cw.DB_NAME = DB_NAME
    url = fresh_database(DB_NAME)
    app, (item_id, plan_id), _sale, member_ids = cw.seed(url, args.members, 10)
    with app.app_context():
        from mall.catalog.models import Item, PricePlan
        from mall.extensions import db
        item, plan = db.session.get(Item, item_id), db.session.get(PricePlan, plan_id)
        facts = item_facts(item, plan)
        db.session.remove()
        db.engine.dispose()
    import psycopg
    with psycopg.connect(f"host=127.0.0.1 user=postgres dbname={DB_NAME}", autocommit=True) as conn:
        conn.execute(function_sql())
    members = [(member_id, cw.device_of(n)) for n, member_id in enumerate(member_ids)]
    checkouts = Checkouts(facts)
    results = {name: [] for name in VARIANTS}
    for _ in range(args.rounds):
        for name in VARIANTS:
            results[name].append(run(name, members, checkouts, threads=args.threads, seconds=args.seconds))
            print(f"{name:20} {json.dumps(results[name][-1])}", file=sys.stderr)

    with app.app_context():
        from mall.audit import run_audit
        audit_ok = not [f for f in run_audit() if f.violations]
        db.engine.dispose()
    out = {name: {k: round(statistics.median(r[k] for r in runs), 3) for k in runs[0]}
           for name, runs in results.items()}
    base = out["statements"]
    for name in ("function", "function_autocommit"):
        out[name]["saves_ms"] = round(base["client_cpu_ms"] + base["postgres_cpu_ms"]
                                      - out[name]["client_cpu_ms"] - out[name]["postgres_cpu_ms"], 3)
    out["audit_ok"] = audit_ok
    print(json.dumps(out))


if __name__ == "__main__":
    main()
