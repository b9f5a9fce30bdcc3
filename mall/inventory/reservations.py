"""Holding, confirming and releasing stock for orders.

Why this cannot oversell: every change to a StockLevel is ONE conditional UPDATE
(`... SET reserved = reserved + q WHERE received - reserved - sold >= q`), so two buyers
of the last unit cannot both succeed, whatever they read before; items are taken in id
order so two multi-item checkouts never deadlock; and CHECK (reserved + sold <= received)
refuses any write that would oversell even if this code were wrong. Redis admission (see
admission.py) only turns away requests that cannot win before they reach the database.
"""
from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from ..errors import DomainError
from ..extensions import db
from ..rawsql import execute, is_postgresql
from ..unit_of_work import note_write
from .models import Reservation, StockLevel, StockMovement


class OutOfStock(DomainError):
    """Carries which items failed, so the page can say which and offer alternatives."""

    def __init__(self, item_ids: list[int]):
        self.item_ids = item_ids
        super().__init__(_l("Sorry, that has just sold out."))


@dataclass(frozen=True)
class Want:
    item_id: int
    quantity: int


def _move(item_id: int, kind: str, quantity: int, reference: str, now: datetime, reason: str = "") -> None:
    db.session.add(StockMovement(item_id=item_id, kind=kind, quantity=quantity, reason=reason,
                                 reference=reference, created_at=now))


def hold(order_id: int, wants: list[Want], *, until: datetime, now: datetime, sell: bool = False) -> None:
    """Hold stock for every line, all or nothing; with `sell`, take it as sold at once (an
    order with nothing left to pay). Raises OutOfStock naming every short item.

    The rows are written first and the counter UPDATEs last (on PostgreSQL: with the UPDATE,
    in one statement): a hot item's counter row is locked from its UPDATE until commit, so
    the caller must commit right after this.
    """
    status, kind = ("confirmed", "sell") if sell else ("held", "reserve")
    column = StockLevel.sold if sell else StockLevel.reserved
    if is_postgresql():
        db.session.flush()  # whatever the caller has pending goes before the counter's row lock
        short = [w.item_id for w in sorted(wants, key=lambda w: w.item_id)
                 if not _take_with_rows(order_id, w, column, status, kind, until, now)]
        if short:
            raise OutOfStock(short)
        return
    for want in wants:
        db.session.add(Reservation(order_id=order_id, item_id=want.item_id, quantity=want.quantity,
                                   status=status, reserved_until=until, created_at=now, updated_at=now))
        _move(want.item_id, kind, want.quantity, f"order:{order_id}", now)
    db.session.flush()
    short = []
    for want in sorted(wants, key=lambda w: w.item_id):
        taken = db.session.execute(
            update(StockLevel)
            .where(StockLevel.item_id == want.item_id,
                   StockLevel.received - StockLevel.reserved - StockLevel.sold >= want.quantity)
            .values({column: column + want.quantity})
            .execution_options(synchronize_session=False)).rowcount
        if not taken:
            short.append(want.item_id)
    if short:
        raise OutOfStock(short)  # the caller's savepoint/transaction undoes every row above


def _take_with_rows(order_id: int, want: Want, column, status: str, kind: str, until: datetime,
                    now: datetime) -> bool:
    """PostgreSQL: the conditional UPDATE and, only if it took the units, the reservation and
    the stock movement, in ONE statement (data-modifying CTEs): one round trip instead of
    three, and still nothing after the counter's row lock but commit. False: not enough."""
    taken = execute(_HOLD_SQL[column.key], {
        "order_id": order_id, "item_id": want.item_id, "quantity": want.quantity, "until": until, "now": now,
        "status": status, "kind": kind, "reference": f"order:{order_id}"}).fetchone()[0]
    if taken:
        note_write()
    return bool(taken)


# One prepared SQL string per counter (issue 15): building the statement with the ORM cost
# more CPU than running it. `reserved` holds, `sold` sells at once.
_HOLD_TEMPLATE = """
WITH taken AS (
  UPDATE stock_levels SET {counter} = {counter} + %(quantity)s
  WHERE item_id = %(item_id)s AND received - reserved - sold >= %(quantity)s
  RETURNING item_id),
reservation AS (
  INSERT INTO reservations (order_id, item_id, quantity, status, reserved_until, created_at, updated_at)
  SELECT %(order_id)s, taken.item_id, %(quantity)s, %(status)s, %(until)s, %(now)s, %(now)s FROM taken),
movement AS (
  INSERT INTO stock_movements (item_id, kind, quantity, reason, reference, actor_id, created_at)
  SELECT taken.item_id, %(kind)s, %(quantity)s, '', %(reference)s, NULL, %(now)s FROM taken)
SELECT count(*) FROM taken
"""
_HOLD_SQL = {counter: _HOLD_TEMPLATE.format(counter=counter) for counter in ("reserved", "sold")}


def _locked(order_id: int, status: str) -> list[Reservation]:
    return list(db.session.scalars(
        select(Reservation).where(Reservation.order_id == order_id, Reservation.status == status)
        .order_by(Reservation.item_id).with_for_update()))


def _put_back(order_id: int, status: str, counter, kind: str, now: datetime, reason: str) -> list[Reservation]:
    """Return the units of the order's reservations in `status` from `counter` to the shelf."""
    returned = _locked(order_id, status)
    for r in returned:
        db.session.execute(update(StockLevel).where(StockLevel.item_id == r.item_id)
                           .values({counter: counter - r.quantity})
                           .execution_options(synchronize_session=False))
        r.status, r.updated_at = "released", now
        _move(r.item_id, kind, -r.quantity, f"order:{order_id}", now, reason)
    db.session.flush()
    return returned


def release(order_id: int, *, now: datetime, reason: str) -> list[Reservation]:
    """Give held stock back. Reservations already confirmed or released are left alone."""
    return _put_back(order_id, "held", StockLevel.reserved, "release", now, reason)


def unsell(order_id: int, *, now: datetime, reason: str) -> list[Reservation]:
    """Put a refunded order's sold units back on the shelf."""
    return _put_back(order_id, "confirmed", StockLevel.sold, "return", now, reason)


def confirm(order_id: int, *, now: datetime) -> None:
    """Turn the order's holds into sales. A hold that was already released (a payment that
    succeeded after the expiry job ran) is taken again if the stock is still there;
    otherwise OutOfStock, and the caller refunds."""
    reservations = list(db.session.scalars(
        select(Reservation).where(Reservation.order_id == order_id).order_by(Reservation.item_id)
        .with_for_update()))
    short = []
    for r in reservations:
        if r.status == "confirmed":
            continue
        if r.status == "held":
            values = {"reserved": StockLevel.reserved - r.quantity, "sold": StockLevel.sold + r.quantity}
            guard = StockLevel.item_id == r.item_id
        else:
            values = {"sold": StockLevel.sold + r.quantity}
            guard = (StockLevel.item_id == r.item_id) & (
                StockLevel.received - StockLevel.reserved - StockLevel.sold >= r.quantity)
        if not db.session.execute(update(StockLevel).where(guard).values(**values)
                                  .execution_options(synchronize_session=False)).rowcount:
            short.append(r.item_id)
            continue
        r.status, r.updated_at = "confirmed", now
        _move(r.item_id, "sell", r.quantity, f"order:{order_id}", now)
    if short:
        raise OutOfStock(short)
    db.session.flush()


def extend(order_id: int, until: datetime, now: datetime) -> None:
    for r in _locked(order_id, "held"):
        r.reserved_until, r.updated_at = max(r.reserved_until, until), now


def available(item_id: int) -> int:
    level = db.session.get(StockLevel, item_id, populate_existing=True)
    return level.available if level else 0

