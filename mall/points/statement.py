"""Read-only views of a member's points: balance, what expires soon, statement pages."""
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from ..extensions import db
from ..pagination import paginate
from .models import EntryKind, LedgerEntry, PointLot, PointsAccount

STATEMENT_FILTERS = {
    "earned": (EntryKind.EARN.value, EntryKind.ADJUST.value),
    "spent": (EntryKind.SPEND.value,),
    "refunded": (EntryKind.REFUND.value,),
    "expired": (EntryKind.EXPIRE.value,),
}


@dataclass(frozen=True)
class Balance:
    points: int                 # spendable now
    expiring_points: int        # of those, how many expire within the warning window
    expiring_first_on: datetime | None
    expiring_window_days: int


def balance(member_id: int, now: datetime, *, warning_days: int = 30) -> Balance:
    """Spendable points exclude remainders already past expiry that the job hasn't swept."""
    live = (PointLot.member_id == member_id) & (PointLot.remaining > 0) & (PointLot.expires_at > now)
    spendable = db.session.scalar(select(func.coalesce(func.sum(PointLot.remaining), 0)).where(live))
    soon = live & (PointLot.expires_at <= now + timedelta(days=warning_days))
    expiring, first = db.session.execute(
        select(func.coalesce(func.sum(PointLot.remaining), 0), func.min(PointLot.expires_at)).where(soon)
    ).one()
    if first is not None and first.tzinfo is None:  # func.min bypasses the column type on SQLite
        first = first.replace(tzinfo=timezone.utc)
    return Balance(points=spendable, expiring_points=expiring, expiring_first_on=first,
                   expiring_window_days=warning_days)


def spendable(member_id: int, now: datetime) -> int:
    """Just the spendable points: one query, for the checkout path."""
    return db.session.scalar(select(func.coalesce(func.sum(PointLot.remaining), 0)).where(
        PointLot.member_id == member_id, PointLot.remaining > 0, PointLot.expires_at > now))


def account_balance(member_id: int) -> int:
    account = db.session.get(PointsAccount, member_id)
    return account.balance if account else 0


@dataclass(frozen=True)
class StatementPage:
    entries: list[LedgerEntry]
    page: int
    pages: int
    total: int
    kind: str | None


def statement(member_id: int, *, kind: str | None = None, page: int = 1, per_page: int = 20) -> StatementPage:
    where = [LedgerEntry.member_id == member_id]
    if kind in STATEMENT_FILTERS:
        where.append(LedgerEntry.kind.in_(STATEMENT_FILTERS[kind]))
    else:
        kind = None
    p = paginate(select(LedgerEntry).where(*where)
                 .order_by(LedgerEntry.created_at.desc(), LedgerEntry.id.desc()), page, per_page)
    return StatementPage(entries=p.items, page=p.page, pages=p.pages, total=p.total, kind=kind)
