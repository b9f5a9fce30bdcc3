"""Games' reactions to other domains' events (mall/events.py), connected by create_app:
draws earned by a check-in streak or a first purchase (mall/games/earned_draws.py)."""
from datetime import datetime

from ..events import first_purchase, points_credited, points_credited_many
from . import earned_draws


def draw_for_checkin(sender, *, entry, now: datetime, **_ignored) -> None:
    if entry.source == "task" and entry.reason == "checkin":
        earned_draws.checked_in(entry.member_id, int((entry.detail or {}).get("streak") or 0), entry.id, now)


def draws_for_checkins(sender, *, entries, now: datetime, **_ignored) -> None:
    checkins = [(e.member_id, int((e.detail or {}).get("streak") or 0), e.id, e.created_at)
                for e in entries if e.source == "task" and e.reason == "checkin"]
    if checkins:
        earned_draws.checked_in_many(checkins)


def draw_for_first_purchase(sender, *, member_id: int, now: datetime, **_ignored) -> None:
    earned_draws.first_purchase(member_id, now)


def connect() -> None:
    """Idempotent: blinker connects a receiver once however often create_app runs."""
    points_credited.connect(draw_for_checkin)
    points_credited_many.connect(draws_for_checkins)
    first_purchase.connect(draw_for_first_purchase)
