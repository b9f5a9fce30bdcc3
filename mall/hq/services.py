"""Programme cost at a glance: what was issued, redeemed, expired, and what is still owed."""
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select

from ..extensions import db
from ..instore.models import Store
from ..points.models import EntryKind, LedgerEntry, PointsAccount


@dataclass(frozen=True)
class ProgrammeTotals:
    issued: int
    redeemed: int      # spends net of refunds
    expired: int
    outstanding: int   # every member's balance now

    @property
    def redemption_rate_pct(self) -> int:
        return self.redeemed * 100 // self.issued if self.issued else 0


def _sum_kind(*kinds: str):
    return func.coalesce(func.sum(case((LedgerEntry.kind.in_(kinds), LedgerEntry.points), else_=0)), 0)


def programme_totals(since: datetime | None, until: datetime) -> ProgrammeTotals:
    where = [LedgerEntry.created_at <= until]
    if since is not None:
        where.append(LedgerEntry.created_at > since)
    issued, spent, refunded, expired = db.session.execute(
        select(_sum_kind(EntryKind.EARN.value), _sum_kind(EntryKind.SPEND.value),
               _sum_kind(EntryKind.REFUND.value), _sum_kind(EntryKind.EXPIRE.value)).where(*where)).one()
    outstanding = db.session.scalar(select(func.coalesce(func.sum(PointsAccount.balance), 0)))
    return ProgrammeTotals(issued=issued, redeemed=-spent - refunded, expired=-expired,
                           outstanding=outstanding)


def issued_by_store(since: datetime | None, until: datetime) -> list[tuple[str | None, int]]:
    """Points issued per store; None is online and other non-store earning."""
    where = [LedgerEntry.kind == EntryKind.EARN.value, LedgerEntry.created_at <= until]
    if since is not None:
        where.append(LedgerEntry.created_at > since)
    rows = db.session.execute(
        select(Store.name, func.sum(LedgerEntry.points))
        .select_from(LedgerEntry).outerjoin(Store, Store.id == LedgerEntry.store_id)
        .where(*where).group_by(Store.name).order_by(func.sum(LedgerEntry.points).desc())).all()
    return [(name, total) for name, total in rows]
