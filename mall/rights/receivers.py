"""Rights react to orders: a fulfilled order for a right item grants the right."""
from ..events import order_changed
from .services import grant_for_order


def order_fulfilled(sender, *, order, kind, now, **_):
    if kind == "fulfilled" and order.kind == "right":
        grant_for_order(order, now)


def connect() -> None:
    order_changed.connect(order_fulfilled)
