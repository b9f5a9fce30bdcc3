"""PostgreSQL: an order and its one line written in one statement (issue 15).

The ORM flush writes the order (INSERT ... RETURNING id) and then its line: two round trips.
Here the line's INSERT reads the order's id from a data-modifying CTE, and the objects join
the session as already written (make_transient_to_detached: no flush, no re-read). Column
defaults (scalar ones, as every column of these tables has) are applied here as the flush
would; anything else (several lines, another database) returns False and the caller flushes.
"""
from functools import cache

from sqlalchemy import bindparam, insert, select
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from ..extensions import db
from ..rawsql import is_postgresql
from ..unit_of_work import note_write
from .models import Order, OrderLine


def _values(obj, skip=()) -> dict | None:
    values = {}
    for column in obj.__table__.columns:
        if column.primary_key or column.key in skip:
            continue
        value = getattr(obj, column.key)
        if value is None and column.default is not None:
            if not column.default.is_scalar:
                return None
            value = column.default.arg
            setattr(obj, column.key, value)
        values[column.key] = value
    return values


@cache
def _statement(order_columns: tuple, line_columns: tuple):
    """Built once (bound parameters): building it costs more CPU than running it."""
    orders, order_lines = Order.__table__, OrderLine.__table__
    new_order = (insert(orders).values({c: bindparam(f"o_{c}", type_=orders.c[c].type) for c in order_columns})
                 .returning(orders.c.id).cte("new_order"))
    new_line = insert(order_lines).from_select(
        ["order_id", *line_columns],
        select(new_order.c.id, *[bindparam(f"l_{c}", type_=order_lines.c[c].type) for c in line_columns]),
        include_defaults=False).returning(order_lines.c.order_id, order_lines.c.id).cte("new_line")
    return select(new_line.c.order_id, new_line.c.id)


def write_in_one_statement(order: Order, lines: list[OrderLine]) -> bool:
    """Write `order` with `lines` in one round trip; False when this path does not apply."""
    if len(lines) != 1 or not is_postgresql():
        return False
    line = lines[0]
    order_values, line_values = _values(order), _values(line, skip=("order_id",))
    if order_values is None or line_values is None:
        return False
    params = {f"o_{c}": v for c, v in order_values.items()} | {f"l_{c}": v for c, v in line_values.items()}
    statement = _statement(tuple(order_values), tuple(line_values))
    order_id, line_id = db.session.execute(statement, params).one()
    note_write()
    order.id, line.id, line.order_id = order_id, line_id, order_id
    make_transient_to_detached(order)  # history reset: the session sees rows already written
    make_transient_to_detached(line)
    set_committed_value(order, "lines", [line])
    set_committed_value(line, "order", order)
    for name in ("events", "payment"):  # a new order has none: no lazy load later
        set_committed_value(order, name, [] if name == "events" else None)
    db.session.add(order)
    db.session.add(line)
    return True
