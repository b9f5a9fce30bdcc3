"""Tiers follow qualifying spend over the rolling 12 months, never the current balance
(a balance falls when the member redeems; their standing should not)."""
import calendar
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from ..extensions import db
from .models import LedgerEntry, Tier

WINDOW = timedelta(days=365)


def add_months(at: datetime, months: int) -> datetime:
    month0 = at.month - 1 + months
    year, month = at.year + month0 // 12, month0 % 12 + 1
    day = min(at.day, calendar.monthrange(year, month)[1])
    return at.replace(year=year, month=month, day=day)


def all_tiers() -> list[Tier]:
    return list(db.session.scalars(select(Tier).order_by(Tier.rank)))


def qualifying_spend(member_id: int, now: datetime) -> int:
    return db.session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.spend_minor), 0))
        .where(LedgerEntry.member_id == member_id, LedgerEntry.created_at > now - WINDOW,
               LedgerEntry.created_at <= now)) or 0


@dataclass(frozen=True)
class TierStatus:
    tier: Tier
    next_tier: Tier | None
    qualifying_minor: int

    @property
    def to_next_minor(self) -> int:
        return max(self.next_tier.threshold_minor - self.qualifying_minor, 0) if self.next_tier else 0

    @property
    def progress_pct(self) -> int:
        if self.next_tier is None:
            return 100
        return min(100, self.qualifying_minor * 100 // max(self.next_tier.threshold_minor, 1))

    def reaches(self, tier: Tier | None) -> bool:
        return tier is None or self.tier.rank >= tier.rank

    def spend_to_reach(self, tier: Tier) -> int:
        return max(tier.threshold_minor - self.qualifying_minor, 0)

    def progress_to(self, tier: Tier) -> int:
        return min(100, self.qualifying_minor * 100 // max(tier.threshold_minor, 1))


def status_for_spend(spend_minor: int, tiers: list[Tier]) -> TierStatus:
    if not tiers:
        raise LookupError("no tiers configured: run `flask --app wsgi mall demo` or add tiers")
    reached = [t for t in tiers if t.threshold_minor <= spend_minor] or tiers[:1]
    current = reached[-1]
    higher = [t for t in tiers if t.rank > current.rank]
    return TierStatus(tier=current, next_tier=higher[0] if higher else None,
                      qualifying_minor=spend_minor)


def tier_status(member_id: int, now: datetime) -> TierStatus:
    return status_for_spend(qualifying_spend(member_id, now), all_tiers())


def expiry_for(tier: Tier, now: datetime) -> datetime:
    return add_months(now, tier.validity_months)
