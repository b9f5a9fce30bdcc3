"""Bookings react to orders: an order that ends without its service gives the slot back."""
from ..events import order_changed
from .services import release_for

ENDED = ("cancelled", "expired", "refunded", "payment_failed", "review_rejected", "offer_declined")


def order_ended(sender, *, order, kind, now, **_):
    if kind in ENDED and order.kind == "service":
        release_for(order, now)


def connect() -> None:
    order_changed.connect(order_ended)
