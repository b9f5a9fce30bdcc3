"""Order status news for the member, from the order's event log (checkout's `record`).

Only events a member cares about become notifications; presale events are told by the
presale code itself (kind "presale"). Keyed per order and event, so recording an event
twice tells the member once. Written in the order's transaction: a rolled-back order
tells nobody, and the email goes out after commit (the delivery job).
"""
from datetime import datetime

from ..catalog.models import Item
from ..extensions import db
from .services import notify

# order event kind -> the status word the message shows (translated in the template)
MEMBER_EVENTS = {"ready_for_pickup": "ready", "picked_up": "picked_up", "refunded": "refunded",
                 "expired": "expired", "payment_failed": "payment_failed", "held_for_review": "in_review",
                 "review_approved": "ready", "review_rejected": "refunded"}


def notice_order_event(order, kind: str, now: datetime) -> None:
    status = MEMBER_EVENTS.get(kind)
    if status is None or order.member_id is None:
        return
    if order.presale_id is not None and kind == "ready_for_pickup":
        return  # the presale code tells "your presale item has arrived" itself
    notify(order.member_id, "order_status", f"order:{order.id}:{kind}",
           {"order": order.number, "order_id": order.id, "status": status, "items": _items(order)}, now)


def _items(order) -> list[dict]:
    """What was ordered, named in both languages (the message is rendered in the reader's,
    perhaps much later): the name as ordered, and the item's Chinese name."""
    items = []
    for line in order.lines:
        item = db.session.get(Item, line.item_id)
        items.append({"name": line.item_name, "name_zh": item.name_zh if item is not None else None,
                      "quantity": line.quantity})
    return items
