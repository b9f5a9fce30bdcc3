"""Budgets' reactions to other domains' events (mall/events.py), connected by create_app."""
from datetime import datetime

from ..events import pending_cancelled
from .services import give_back_uplift


def uplift_charge_back(sender, *, earn_entry_id: int, cancelled: int, remaining_before: int, now: datetime) -> None:
    """A refund inside the return window: the purchase's uplift gives its share back."""
    give_back_uplift(earn_entry_id, cancelled=cancelled, remaining_before=remaining_before, now=now)


def connect() -> None:
    """Idempotent: blinker connects a receiver once however often create_app runs."""
    pending_cancelled.connect(uplift_charge_back)
