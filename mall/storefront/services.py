"""The member home: everything the first screen shows, gathered in one call."""
from dataclasses import dataclass
from datetime import datetime

from ..accounts.models import User
from ..catalog.services import ItemCard, item_card
from ..errors import NotFound
from ..extensions import db
from ..points.models import LedgerEntry
from ..points.statement import Balance, balance, statement
from ..points.tiers import TierStatus, tier_status


@dataclass(frozen=True)
class MemberHome:
    balance: Balance
    tier: TierStatus
    target: ItemCard | None
    recent: list[LedgerEntry]
    pending: dict = None        # {entry id: available on} for recent lines still pending

    @property
    def target_progress_pct(self) -> int:
        if self.target is None:
            return 0
        return min(100, self.balance.points * 100 // max(self.target.price, 1))


def member_home(member_id: int, now: datetime, *, warning_days: int = 30) -> MemberHome:
    member = db.session.get(User, member_id)
    if member is None:
        raise NotFound()
    points = balance(member_id, now, warning_days=warning_days)
    status = tier_status(member_id, now)
    target = None
    if member.target_item_id:
        try:
            target = item_card(member.target_item_id, status, points.points, now)
        except NotFound:  # unpublished since it was pinned
            target = None
    recent = statement(member_id, per_page=5)
    return MemberHome(balance=points, tier=status, target=target, recent=recent.entries, pending=recent.pending)
