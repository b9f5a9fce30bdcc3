"""PostgreSQL: the common checkout's writes as one pre-compiled statement (issue 15).

Why: after issue 15's first passes a successful checkout ran 12 statements, and most of its
Python CPU was SQLAlchemy building, cache-keying and compiling them and the ORM's unit of
work, not the database. For the common case (one line, no coupon, no service slot, points to
spend from lots that are all live) the order, its line, its timeline events and the points
spend (balance UPDATE, ledger entry, lot UPDATEs, lot movements) are written by ONE SQL
string prepared on the server (mall/rawsql.py), and the Order the view and the order_changed
receivers need is built from what it returns, without a flush or a re-read.

The invariants are the ORM path's: the balance UPDATE is conditional and the entry is
inserted from its RETURNING row (no row: no entry, no lot change, and the caller raises
InsufficientPoints); the CHECK constraints are unchanged. There is no savepoint around it
(issue 15's sixth pass: SAVEPOINT and RELEASE were 2 of the 8 statements): a replay's order
INSERT finds its (member, key) taken (ON CONFLICT DO NOTHING) and every other write of the
statement hangs off the new order's row, so a replay writes nothing and gets no row back;
a refusal after the write (InsufficientPoints here, OutOfStock at the stock hold, ...) rolls
the whole transaction back (place_order), which is why the fast path is taken only while
the transaction holds nothing else (`unit_of_work.untouched()`). Everything else (several
lines, a coupon, a service, a lapsed lot, lots short of the balance, a member without an
account, a transaction with earlier writes, SQLite) takes the ORM path in checkout/orders.py,
which stays the reference these rows are tested against
(tests/integration/test_checkout_fast_path_pg.py).
"""
import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from ..catalog.models import INSTANT_KINDS
from ..errors import InsufficientPoints
from ..extensions import db
from ..points.ledger import ORDER_SPEND_CTES, fifo_takes, forget_account, lock_with_lots
from ..rawsql import execute, is_postgresql
from ..unit_of_work import note_write, untouched
from .models import Order, OrderLine

# Goods and the kinds delivered at once (their receivers read the Order built here, as they
# read the one order_rows.py builds); a service needs its slot booked (`book`), not here.
FAST_KINDS = ("goods", *INSTANT_KINDS)


@dataclass(frozen=True)
class Locked:
    """The member's account row and live lots, locked: what the fast path spends from."""
    spendable: int
    lots: list  # [(lot id, remaining, expires_at)] soonest-expiring first


def may_apply(requests, *, coupon, book) -> bool:
    """Before pricing: could this checkout take the fast path at all? Not in a transaction
    that already holds work: the fast path's refusals roll the whole transaction back."""
    return len(requests) == 1 and not coupon and book is None and is_postgresql() and untouched()


def lock(member_id: int) -> Locked | None:
    """Lock the account row and the live lots (lock_account's job on the ORM path); None
    for a member without an account."""
    found = lock_with_lots(member_id)
    return Locked(*found) if found is not None else None


def takes_for(totals, locked: Locked, now: datetime) -> list | None:
    """After pricing: the lots the spend takes from, or None when the ORM path must write."""
    if len(totals.lines) != 1 or totals.coupon is not None or totals.points <= 0:
        return None
    if totals.lines[0].item.kind not in FAST_KINDS:
        return None
    return fifo_takes(locked.lots, totals.points, now)


_WRITE_SQL = """
WITH new_order AS (
  INSERT INTO orders (number, member_id, status, points_total, cash_total_minor, payment_mode, idempotency_key,
                      reserved_until, cash_collected_minor, presale_id, queue_position, offer_deadline,
                      created_at, updated_at)
  VALUES (%(number)s, %(member_id)s, %(status)s, %(points)s, %(cash)s, %(payment_mode)s, %(key)s,
          %(reserved_until)s, 0, NULL, NULL, NULL, %(now)s, %(now)s)
  ON CONFLICT (member_id, idempotency_key) DO NOTHING
  RETURNING id, number),
new_line AS (
  INSERT INTO order_lines (order_id, item_id, plan_id, plan_kind, item_name, item_kind, quantity, offset_points,
                           points, cash_minor)
  SELECT new_order.id, %(item_id)s, %(plan_id)s, CAST(%(plan_kind)s AS VARCHAR), CAST(%(item_name)s AS VARCHAR),
         CAST(%(item_kind)s AS VARCHAR), %(quantity)s, %(offset_points)s, %(line_points)s, %(line_cash)s
  FROM new_order
  RETURNING id),
new_events AS (
  INSERT INTO order_events (order_id, kind, actor_id, actor, note, created_at)
  SELECT new_order.id, e.kind, e.actor_id, e.actor, e.note, %(now)s
  FROM new_order, unnest(CAST(%(ev_kinds)s AS VARCHAR[]), CAST(%(ev_actor_ids)s AS INTEGER[]),
                         CAST(%(ev_actors)s AS VARCHAR[]), CAST(%(ev_notes)s AS VARCHAR[]))
                  WITH ORDINALITY AS e(kind, actor_id, actor, note, n)
  ORDER BY e.n
  RETURNING id),
""" + ORDER_SPEND_CTES + """
SELECT new_order.id, new_line.id, (SELECT array_agg(id ORDER BY id) FROM new_events), entry.id
FROM new_order CROSS JOIN new_line LEFT JOIN entry ON true
"""


def write(member_id: int, totals, takes: list, *, number: str, key: str, now: datetime, status: str,
          reserved_until: datetime | None, payment_mode: str, events: list[tuple]) -> tuple[Order, list[int]]:
    """Write the order, its line, `events` ([(kind, actor, actor_id, note)], in order) and
    the points spend in one round trip. Returns the Order (in the session, as written) and
    the events' ids. Raises InsufficientPoints (the caller's savepoint undoes the order) or
    IntegrityError (a replay of `key`)."""
    line = totals.lines[0]
    item = line.item
    label = f"{item.name} ×{line.quantity}"
    params = {
        "number": number, "member_id": member_id, "status": status, "points": totals.points,
        "cash": totals.cash_minor, "payment_mode": payment_mode, "key": key, "reserved_until": reserved_until,
        "now": now, "item_id": item.id, "plan_id": line.plan.id, "plan_kind": line.plan.kind,
        "item_name": item.name, "item_kind": item.kind, "quantity": line.quantity,
        "offset_points": line.offset_points, "line_points": line.quote.points, "line_cash": line.quote.cash_minor,
        "ev_kinds": [e[0] for e in events], "ev_actors": [e[1] for e in events],
        "ev_actor_ids": [e[2] for e in events], "ev_notes": [e[3][:255] for e in events],
        # the ledger entry's detail, as write_order builds it for one line
        "d_item": label, "d_item_zh": f"{item.name_zh or item.name} ×{line.quantity}",
        "plans": json.dumps([line.plan.kind]), "category": item.category.slug if item.category else "",
        "lot_ids": [lot_id for lot_id, _ in takes], "takes": [take for _, take in takes],
    }
    row = execute(_WRITE_SQL, params).fetchone()
    if row is None:  # the key's order exists (ON CONFLICT): nothing was written
        return None, []
    order_id, line_id, event_ids, entry_id = row
    note_write()
    forget_account(member_id)  # its balance changed behind the ORM (priced with it, perhaps)
    if entry_id is None:  # the balance UPDATE matched nothing: the caller rolls the order back
        raise InsufficientPoints(needed=totals.points, available=totals.balance)
    return _joined(params, order_id, line_id), event_ids


def _joined(p: dict, order_id: int, line_id: int) -> Order:
    """The written rows as session objects (as order_rows.py joins them: no flush, no re-read)."""
    order = Order(id=order_id, number=p["number"], member_id=p["member_id"], status=p["status"],
                  points_total=p["points"], cash_total_minor=p["cash"], payment_mode=p["payment_mode"],
                  idempotency_key=p["key"], reserved_until=p["reserved_until"], cash_collected_minor=0,
                  coupon_discount_minor=0, presale_id=None, queue_position=None, offer_deadline=None,
                  created_at=p["now"], updated_at=p["now"])
    line = OrderLine(id=line_id, order_id=order_id, item_id=p["item_id"], plan_id=p["plan_id"],
                     plan_kind=p["plan_kind"], item_name=p["item_name"], item_kind=p["item_kind"],
                     quantity=p["quantity"], offset_points=p["offset_points"], points=p["line_points"],
                     cash_minor=p["line_cash"])
    make_transient_to_detached(order)
    make_transient_to_detached(line)
    set_committed_value(order, "lines", [line])
    set_committed_value(line, "order", order)
    set_committed_value(order, "events", [])
    set_committed_value(order, "payment", None)
    db.session.add(order)
    db.session.add(line)
    return order


_HELD_SQL = "UPDATE order_events SET kind = 'held_for_review', note = '' WHERE id = %(event_id)s"


def held_for_review(event_ids: list[int]) -> bool:
    """A screened order held for review: the paid event written with the order becomes the
    "held_for_review" one (same actor, time and place in the timeline, as the ORM path would
    have written it). False when there was no second event to turn (an order with cash due)."""
    if len(event_ids) < 2:
        return False
    execute(_HELD_SQL, {"event_id": event_ids[1]})
    return True
