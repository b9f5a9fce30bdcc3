"""What a member pays under each price plan, in whole points and integer minor units.

One rounding rule, used for the quote the member sees and for the charge:
- cash offset: points convert to cash at `points_per_unit` points per currency unit
  (100 points = ¥1 by default). The cash a member may offset is capped at `max_offset_pct`
  of the line's cash price, rounded DOWN to a whole minor unit. The offset in minor units is
  floor(points x 100 / points_per_unit), and the points charged are the fewest that buy
  that offset: ceil(offset x points_per_unit / 100). So a member is never charged a point
  that bought nothing, and the cap is never exceeded.
"""
from dataclasses import dataclass

from ..errors import DomainError
from flask_babel import lazy_gettext as _l

POINTS, POINTS_CASH, CASH_OFFSET = "points", "points_cash", "cash_offset"
PLAN_KINDS = (POINTS, POINTS_CASH, CASH_OFFSET)


class InvalidOffset(DomainError):
    field = "offset_points"

    def __init__(self, most: int):
        self.most = most
        super().__init__(_l("You can use between 0 and %(most)s points on this item.", most=most))


@dataclass(frozen=True)
class Quote:
    points: int        # points charged for the line
    cash_minor: int    # cash due for the line
    offset_minor: int  # cash the points replaced (offset plans only)


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def max_offset_points(cash_minor: int, max_offset_pct: int, points_per_unit: int) -> int:
    cap_minor = cash_minor * max_offset_pct // 100
    return _ceil_div(cap_minor * points_per_unit, 100)


def quote(kind: str, *, quantity: int, unit_points: int = 0, unit_cash_minor: int = 0,
          max_offset_pct: int = 0, points_per_unit: int = 100, offset_points: int = 0) -> Quote:
    """The exact charge for `quantity` units under one plan."""
    if kind == POINTS:
        return Quote(points=unit_points * quantity, cash_minor=0, offset_minor=0)
    if kind == POINTS_CASH:
        return Quote(points=unit_points * quantity, cash_minor=unit_cash_minor * quantity, offset_minor=0)
    if kind == CASH_OFFSET:
        cash = unit_cash_minor * quantity
        most = max_offset_points(cash, max_offset_pct, points_per_unit)
        if not isinstance(offset_points, int) or not 0 <= offset_points <= most:
            raise InvalidOffset(most)
        cap_minor = cash * max_offset_pct // 100
        offset = min(offset_points * 100 // points_per_unit, cap_minor)
        charged = _ceil_div(offset * points_per_unit, 100)
        return Quote(points=charged, cash_minor=cash - offset, offset_minor=offset)
    raise ValueError(f"unknown plan kind {kind!r}")
