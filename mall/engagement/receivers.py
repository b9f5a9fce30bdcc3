"""Engagement's reactions to other domains' events (mall/events.py), connected by create_app."""
from datetime import datetime

from ..events import first_purchase, purchase_recorded, purchase_refunded
from .earning import purchase_recorded as earn_for_recorded_purchase
from .earning import purchase_refunded as forfeit_bonus_of_refunded_purchase
from .tasks import reward_referral


def reward_referral_on_first_purchase(sender, *, member_id: int, now: datetime, store_id: int | None = None) -> None:
    reward_referral(member_id, now, store_id=store_id)


def connect() -> None:
    """Idempotent: blinker connects a receiver once however often create_app runs."""
    purchase_recorded.connect(earn_for_recorded_purchase)
    first_purchase.connect(reward_referral_on_first_purchase)
    purchase_refunded.connect(forfeit_bonus_of_refunded_purchase)
