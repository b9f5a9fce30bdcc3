"""The wallet's background work, run by `mall jobs`: coupons and red packets past their
expiry move from available to expired (one conditional UPDATE, so a coupon spent at the
same moment is never expired), and "expiring soon" reminders are marked once per item."""
from datetime import datetime, timedelta

from sqlalchemy import select, update

from ..extensions import db
from .models import ItemState, WalletItem


def expire_due(now: datetime) -> int:
    """Mark every available item past its expiry expired; returns how many."""
    return db.session.execute(
        update(WalletItem).where(WalletItem.state == ItemState.AVAILABLE.value, WalletItem.expires_at <= now)
        .values(state=ItemState.EXPIRED.value).execution_options(synchronize_session=False)).rowcount


def take_due_reminders(now: datetime, days: int, *, batch: int = 500) -> list[WalletItem]:
    """Available items expiring within `days` that were not reminded yet, each marked
    reminded (once per item: the caller tells the member in the same transaction)."""
    items = list(db.session.scalars(
        select(WalletItem).where(WalletItem.state == ItemState.AVAILABLE.value, WalletItem.reminded_at.is_(None),
                                 WalletItem.expires_at > now, WalletItem.expires_at <= now + timedelta(days=days))
        .order_by(WalletItem.id).limit(batch).with_for_update(skip_locked=True)))
    for item in items:
        item.reminded_at = now
    db.session.flush()
    return items
