"""Member news from other domains' events (mall/events.py), connected by create_app.

Written in the sender's transaction: a rolled-back change tells nobody, and the email goes
out after commit (the delivery job).
"""
from datetime import datetime

from ..events import order_changed, presale_news, tier_changed
from .orders import notice_order_event
from .services import notify


def tell_order_news(sender, *, order, kind: str, now: datetime) -> None:
    notice_order_event(order, kind, now)


def tell_presale_news(sender, *, order, event: str, now: datetime) -> None:
    """Keyed per order and event, so running the allocation again never repeats the news."""
    notify(order.member_id, "presale", f"order:{order.id}:{event}",
           {"event": event, "order": order.number, "order_id": order.id}, now)


def tell_tier_change(sender, *, change, from_tier, to_tier, now: datetime) -> None:
    if change.kind == "renewal":
        return
    period_ends_at = change.period_ends_at
    notify(change.member_id, "tier_change", f"tier-change:{change.id}",
           {"kind": change.kind, "from": from_tier.code if from_tier else None, "to": to_tier.code,
            "to_name": to_tier.name, "to_name_zh": to_tier.name_zh,
            "from_name": from_tier.name if from_tier else None,
            "from_name_zh": from_tier.name_zh if from_tier else None,
            "period_ends_at": period_ends_at.isoformat() if period_ends_at else None}, now)


def connect() -> None:
    """Idempotent: blinker connects a receiver once however often create_app runs."""
    order_changed.connect(tell_order_news)
    presale_news.connect(tell_presale_news)
    tier_changed.connect(tell_tier_change)
