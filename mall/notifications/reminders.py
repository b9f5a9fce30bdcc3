"""Expiry reminders: 30 and 7 days before points expire, naming the amount and suggesting
rewards the member can afford now; and once, a few days before, for each coupon or red packet
in a member's wallet (`send_coupon_reminders`). Keyed per member, expiry day and stage, so running the
job again (or every minute) reminds nobody twice."""
from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import select

from ..extensions import db
from ..points.models import PointLot
from ..points.statement import balance
from ..points.tiers import tier_status
from ..catalog.services import browse
from ..settings import current as current_settings
from ..shoptime import local_day
from ..wallet.jobs import take_due_reminders
from .services import find_notification, notify

STAGES = (30, 7)  # days before expiry; the nearest stage not yet passed is the one sent


def _affordable_rewards(member_id: int, now: datetime, limit: int = 3) -> list[dict]:
    points = balance(member_id, now).points
    page = browse(tier_status(member_id, now), points, affordable_only=True, per_page=limit, now=now)
    return [{"id": c.item.id, "name": c.item.name, "name_zh": c.item.name_zh, "points": c.price}
            for c in page.cards]


def send_expiry_reminders(now: datetime, *, batch: int = 500) -> int:
    """Notify every member with points expiring within 30 days; returns new reminders.
    Members are taken in pages of `batch` (by id), so a long list is covered in one run."""
    zone = current_settings().timezone
    due_lot = (PointLot.remaining > 0) & (PointLot.expires_at > now) & (
        PointLot.expires_at <= now + timedelta(days=STAGES[0]))
    sent, after = 0, 0
    while True:
        members = db.session.scalars(select(PointLot.member_id).where(due_lot, PointLot.member_id > after)
                                     .distinct().order_by(PointLot.member_id).limit(batch)).all()
        if not members:
            return sent
        after = members[-1]
        rows = db.session.execute(select(PointLot.member_id, PointLot.expires_at, PointLot.remaining)
                                  .where(due_lot, PointLot.member_id.in_(members))
                                  .order_by(PointLot.member_id, PointLot.expires_at)).all()
        due: dict[tuple[int, str], dict] = defaultdict(lambda: {"points": 0})
        for member_id, expires_at, remaining in rows:
            day = local_day(expires_at, zone).isoformat()
            entry = due[(member_id, day)]
            entry["points"] += remaining
            entry.setdefault("expires_at", expires_at)
        for (member_id, day), facts in due.items():
            sent += _remind(member_id, day, facts, now)


def _remind(member_id: int, day: str, facts: dict, now: datetime) -> int:
    left = facts["expires_at"] - now
    stage = min(s for s in STAGES if left <= timedelta(days=s))
    key = f"expiry:{day}:{stage}"
    if find_notification(member_id, "expiry_reminder", key) is not None:
        return 0  # reminded already: skip the catalogue look-up too
    days_left = -(-left // timedelta(days=1))  # 29.5 days -> "in 30 days"
    notify(member_id, "expiry_reminder", key,
           {"points": facts["points"], "expires_on": day, "stage": stage, "days": days_left,
            "rewards": _affordable_rewards(member_id, now)}, now)
    return 1


def send_coupon_reminders(now: datetime) -> int:
    """Tell members once, `coupon_reminder_days` before, that a coupon or red packet in their
    wallet expires (an expiry reminder, keyed per wallet item). Returns new reminders."""
    sent = 0
    while True:
        items = take_due_reminders(now, current_settings().coupon_reminder_days)
        for item in items:
            days = max(1, -(-(item.expires_at - now) // timedelta(days=1)))
            notify(item.account_id, "expiry_reminder", f"wallet:{item.id}",
                   {"wallet_item_id": item.id, "name": item.name, "name_zh": item.name_zh, "days": days,
                    "expires_at": item.expires_at.isoformat()}, now)
            sent += 1
        if len(items) < 500:
            return sent
