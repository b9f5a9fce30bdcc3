"""Whether an item may be bought through ordinary checkout, as far as its presale goes
(read-only; checkout asks it before anything is written).

Presale is fair (docs/design.md #7): stock goes to pre-orders first come, first served. So
while the presale's window is open (its priority window included), or any pre-order still
waits in its queue (status "preordered"), the item is reserved for pre-orders: whatever stock
it has, received, adjusted up or returned, waits for the allocation, which never lets a later
pre-order jump an earlier one, and nobody else takes the units the queue's head is waiting
to be made whole with. From the ship date on, allocation offers every unserved pre-order a
substitute or a refund, the queue empties, and what stock is left goes on sale.

A window closed with nobody waiting can't start holding pre-orders again (a pre-order needs
the window open), so a checkout that found the item free may go on without a lock.
"""
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, select

from ..checkout.models import Order, OrderStatus
from ..errors import DomainError
from ..extensions import db
from .models import Presale


class ReservedForPreorders(DomainError):
    message = _l("This item is reserved for pre-orders right now.")


def reserved_for_preorders(presale_id: int | None, now: datetime) -> bool:
    """True while the presale `presale_id` has its window open or pre-orders waiting. One
    query, for an item with a presale only (None: no presale, no query)."""
    if presale_id is None:
        return False
    waiting = exists().where(Order.presale_id == Presale.id, Order.status == OrderStatus.PREORDERED.value)
    row = db.session.execute(select(Presale.priority_opens_at, Presale.opens_at, Presale.closes_at, waiting)
                             .where(Presale.id == presale_id)).one_or_none()
    if row is None:
        return False
    priority_opens_at, opens_at, closes_at, has_waiting = row
    return bool(has_waiting) or (priority_opens_at or opens_at) <= now < closes_at


def check_not_reserved(items, now: datetime) -> None:
    """Refuse (ReservedForPreorders) an ordinary checkout of any of `items` reserved for
    pre-orders. `Item.presale_id` comes with the item checkout loaded: no query for an item
    without a presale."""
    for item in items:
        if reserved_for_preorders(item.presale_id, now):
            raise ReservedForPreorders()
