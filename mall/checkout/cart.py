"""The member's cart: lines of (item, plan, quantity), priced live at checkout."""
from datetime import datetime

from sqlalchemy import delete, select

from flask_babel import lazy_gettext as _l

from ..errors import DomainError, NotFound
from ..extensions import db
from ..idempotency import insert_once
from .models import CartLine
from .quotes import LineRequest, price, price_line  # noqa: F401  (price_line validates adds)


def lines(member_id: int) -> list[CartLine]:
    return list(db.session.scalars(select(CartLine).where(CartLine.member_id == member_id).order_by(CartLine.id)))


def requests(member_id: int) -> list[LineRequest]:
    return [LineRequest(l.item_id, l.plan_id, l.quantity, l.offset_points) for l in lines(member_id)]


def add(member_id: int, request: LineRequest, now: datetime, *, points_per_unit: int,
        key: str | None = None) -> CartLine:
    """Add (or increase) a line, validated by pricing it first. `key` is the submit's: the
    line remembers the last one, so the same submit again (a double tap) adds nothing.

    The line is read FOR UPDATE, so two adds to it run one after the other and neither
    quantity is lost; when two first adds race, the one that loses the insert (UNIQUE
    one_line_per_item_plan) finds its twin's line and adds to it, or nothing if it was the
    same submit. Refusals (DomainError from pricing) write nothing."""
    line = _line_for(member_id, request)
    if line is None:
        _check(member_id, request, now, points_per_unit)
        line, inserted = insert_once(lambda: _insert(member_id, request, now, key),
                                     lambda: _line_for(member_id, request))
        if inserted:
            return line
    if key is not None and line.last_key == key:
        return line  # this very submit was added already
    merged = LineRequest(request.item_id, request.plan_id, request.quantity + line.quantity, request.offset_points)
    _check(member_id, merged, now, points_per_unit)
    line.quantity, line.offset_points, line.last_key = merged.quantity, merged.offset_points, key
    db.session.flush()
    return line


def _line_for(member_id: int, request: LineRequest) -> CartLine | None:
    return db.session.scalar(select(CartLine).where(
        CartLine.member_id == member_id, CartLine.item_id == request.item_id, CartLine.plan_id == request.plan_id)
        .with_for_update().execution_options(populate_existing=True))


def _check(member_id: int, request: LineRequest, now: datetime, points_per_unit: int) -> None:
    totals = price(member_id, [request], now, points_per_unit=points_per_unit)  # raises on anything invalid
    if totals.lines[0].item.kind != "goods":  # coupons, services, rights: bought on their own
        raise DomainError(_l("This reward is bought on its own: use Buy now."))


def _insert(member_id: int, request: LineRequest, now: datetime, key: str | None) -> CartLine:
    line = CartLine(member_id=member_id, item_id=request.item_id, plan_id=request.plan_id, quantity=request.quantity,
                    offset_points=request.offset_points, last_key=key, created_at=now)
    db.session.add(line)
    db.session.flush()
    return line


def set_quantity(member_id: int, line_id: int, quantity: int, now: datetime, *, points_per_unit: int) -> CartLine:
    line = _own(member_id, line_id)
    price(member_id, [LineRequest(line.item_id, line.plan_id, quantity, line.offset_points)], now,
          points_per_unit=points_per_unit)
    line.quantity = quantity
    db.session.flush()
    return line


def remove(member_id: int, line_id: int) -> None:
    db.session.delete(_own(member_id, line_id))
    db.session.flush()


def clear(member_id: int) -> None:
    db.session.execute(delete(CartLine).where(CartLine.member_id == member_id))


def _own(member_id: int, line_id: int) -> CartLine:
    line = db.session.get(CartLine, line_id)
    if line is None or line.member_id != member_id:
        raise NotFound()
    return line
