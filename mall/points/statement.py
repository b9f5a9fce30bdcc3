"""Read-only views of a member's points: balance, what expires soon, statement pages."""
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from ..extensions import db
from ..pagination import paginate
from .ledger import NOT_PENDING
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
    pending_points: int = 0     # purchase points inside the return window: not spendable yet
    pending_first_on: datetime | None = None  # when the first of them becomes available


def _utc(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:  # func.min bypasses the column type on SQLite
        return value.replace(tzinfo=timezone.utc)
    return value


def balance(member_id: int, now: datetime, *, warning_days: int = 30) -> Balance:
    """Spendable points exclude remainders already past expiry that the job hasn't swept,
    and pending points (DESIGN.md #10), which are counted apart."""
    live = (PointLot.member_id == member_id) & (PointLot.remaining > 0) & (PointLot.expires_at > now) & NOT_PENDING
    spendable = db.session.scalar(select(func.coalesce(func.sum(PointLot.remaining), 0)).where(live))
    pending, pending_first = db.session.execute(
        select(func.coalesce(func.sum(PointLot.remaining), 0), func.min(PointLot.pending_until))
        .where(PointLot.member_id == member_id, PointLot.pending_state == "pending")).one()
    soon = live & (PointLot.expires_at <= now + timedelta(days=warning_days))
    expiring, first = db.session.execute(
        select(func.coalesce(func.sum(PointLot.remaining), 0), func.min(PointLot.expires_at)).where(soon)
    ).one()
    return Balance(points=spendable, expiring_points=expiring, expiring_first_on=_utc(first),
                   expiring_window_days=warning_days, pending_points=pending, pending_first_on=_utc(pending_first))


def spendable(member_id: int, now: datetime) -> int:
    """Just the spendable points: one query, for the checkout path."""
    return db.session.scalar(select(func.coalesce(func.sum(PointLot.remaining), 0)).where(
        PointLot.member_id == member_id, PointLot.remaining > 0, PointLot.expires_at > now, NOT_PENDING))


def pending_dates(entry_ids) -> dict:
    """{earn entry id: when its points become available} for the credits still pending:
    what a statement line shows as "pending, available on <date>"."""
    ids = list(entry_ids)
    if not ids:
        return {}
    return {entry_id: _utc(until) for entry_id, until in db.session.execute(
        select(PointLot.entry_id, PointLot.pending_until)
        .where(PointLot.entry_id.in_(ids), PointLot.pending_state == "pending")).all()}


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
    pending: dict = None        # {entry id: available on} for lines still pending


def statement(member_id: int, *, kind: str | None = None, page: int = 1, per_page: int = 20) -> StatementPage:
    where = [LedgerEntry.member_id == member_id]
    if kind in STATEMENT_FILTERS:
        where.append(LedgerEntry.kind.in_(STATEMENT_FILTERS[kind]))
    else:
        kind = None
    p = paginate(select(LedgerEntry).where(*where)
                 .order_by(LedgerEntry.created_at.desc(), LedgerEntry.id.desc()), page, per_page)
    return StatementPage(entries=p.items, page=p.page, pages=p.pages, total=p.total, kind=kind,
                         pending=pending_dates(e.id for e in p.items if e.kind == EntryKind.EARN.value))
