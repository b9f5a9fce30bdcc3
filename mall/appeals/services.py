"""Raising and resolving appeals.

A member may question any of their statement lines or orders, once at a time (an open
appeal about the same thing is the answer to a second tap). HQ works a queue ordered by due
time: one working day (Monday to Friday, in the shop's zone) after the appeal was raised.
Resolving is one of two outcomes, each telling the member through the inbox:
- an adjustment: points credited through `issue_discretionary`, charged to the programme's
  "appeals" budget, the ledger entry naming the appeal (reason "appeal", detail appeal_id);
  HQ's own decision, so it is credited at once or refused: a budget that can't take the
  points refuses the resolve (AppealsBudgetUsedUp, nothing written), never holds the grant;
- a reply: words only.
"""
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from .. import shoptime
from ..accounts.auditlog import audit
from ..budgets.models import BudgetScope, GrantKind
from ..budgets.services import BudgetRefused, issue_discretionary
from ..catalog.images import APPEAL_PHOTOS, discard_image, store_image
from ..checkout.models import Order
from ..errors import DomainError, InvalidAmount, NotFound
from ..extensions import db
from ..idempotency import insert_once
from ..instore.receipts import Receipt, purchase_id_of, receipt_for_review
from ..notifications.services import notify
from ..pagination import paginate
from ..points.ledger import lock_account
from ..points.models import LedgerEntry
from ..points.tiers import expiry_for, tier_status
from ..wallet.services import used_on_order
from .models import REASON_MAX, Appeal, AppealStatus

APPEALS_BUDGET = (BudgetScope.CAMPAIGN.value, "appeals")
PHOTO_FOLDER = APPEAL_PHOTOS  # never served by /catalog/media
MAX_ADJUSTMENT = 100_000


class AppealAlreadyResolved(DomainError):
    message = _l("That appeal was already resolved.")


class AppealsBudgetUsedUp(DomainError):
    message = _l("The appeals budget is used up this month: raise it on the budgets page, then resolve this appeal.")
    field = "points"


class NothingToAppeal(DomainError):
    message = _l("Choose a statement line or an order of yours to question.")


def _need_text(text: str | None, field: str) -> str:
    text = (text or "").strip()
    if not text:
        raise DomainError(_l("Tell us what is wrong."), field=field)
    if len(text) > REASON_MAX:
        raise DomainError(_l("Keep it under %(n)s characters.", n=REASON_MAX), field=field)
    return text


def due_after(raised_at: datetime, zone: str | None) -> datetime:
    """One working day later: the same local time on the next Monday-to-Friday day."""
    local = raised_at.astimezone(shoptime.shop_zone(zone)) + timedelta(days=1)
    while local.weekday() >= 5:
        local += timedelta(days=1)
    return local.astimezone(raised_at.tzinfo)


@dataclass(frozen=True)
class Subject:
    entry: LedgerEntry | None
    order: Order | None


def subject_for(member_id: int, *, entry_id: int | None, order_id: int | None) -> Subject:
    """The member's own ledger entry or order; anything else is NotFound."""
    if (entry_id is None) == (order_id is None):
        raise NothingToAppeal()
    row = db.session.get(LedgerEntry if entry_id else Order, entry_id or order_id)
    if row is None or row.member_id != member_id:
        raise NotFound()
    return Subject(entry=row if entry_id else None, order=row if order_id else None)


def open_appeal_about(member_id: int, subject: Subject) -> Appeal | None:
    return db.session.scalar(select(Appeal).where(
        Appeal.member_id == member_id, Appeal.status == AppealStatus.OPEN.value,
        Appeal.entry_id == subject.entry.id if subject.entry else Appeal.order_id == subject.order.id))


def raise_appeal(member_id: int, *, entry_id: int | None, order_id: int | None, reason: str, key: str,
                 now: datetime, zone: str | None, photo: bytes | None = None,
                 upload_dir: Path | None = None) -> Appeal:
    """Record the member's question. Idempotent per (member, key); an open appeal about the
    same line is returned instead of a second one. A double tap racing on the same key:
    UNIQUE (member, key) lets one insert win, the other returns the winner's row (insert_once).
    The photo is checked and re-encoded (catalog.images) after every other check, and removed
    again unless this call's row names it, so a refusal or a replay leaves no file."""
    replay = _submitted(member_id, key)
    if replay is not None:
        return replay
    subject = subject_for(member_id, entry_id=entry_id, order_id=order_id)
    reason = _need_text(reason, "reason")
    # The member's account row serialises their appeals (two tabs, two keys, one line): the
    # second waits here and then finds the first open appeal. Writes nothing.
    lock_account(member_id, now, open_missing=False)
    existing = open_appeal_about(member_id, subject)
    if existing is not None:
        return existing
    name = store_image(photo, upload_dir, PHOTO_FOLDER) if photo else None

    def write() -> Appeal:
        appeal = Appeal(member_id=member_id, entry_id=entry_id, order_id=order_id, reason=reason, photo=name,
                        idempotency_key=key, created_at=now, due_at=due_after(now, zone))
        db.session.add(appeal)
        db.session.flush()
        return appeal

    inserted = False
    try:
        appeal, inserted = insert_once(write, lambda: _submitted(member_id, key))
    finally:  # the photo is kept only with the row that names it
        if name and not inserted:
            discard_image(upload_dir, name)
    return appeal


def _submitted(member_id: int, key: str) -> Appeal | None:
    return db.session.scalar(select(Appeal).where(Appeal.member_id == member_id, Appeal.idempotency_key == key))


def member_appeals(member_id: int, page: int = 1):
    return paginate(select(Appeal).where(Appeal.member_id == member_id)
                    .order_by(Appeal.created_at.desc(), Appeal.id.desc()), page, 20)


def member_appeal(appeal_id: int, member_id: int | None) -> Appeal:
    """One appeal: the member's own (member_id given), or any (HQ, member_id None)."""
    appeal = db.session.get(Appeal, appeal_id)
    if appeal is None or (member_id is not None and appeal.member_id != member_id):
        raise NotFound()
    return appeal


@dataclass(frozen=True)
class Queue:
    appeals: list[Appeal]
    overdue: int
    page: int
    pages: int


def queue(now: datetime, page: int = 1) -> Queue:
    """Open appeals, the most overdue first."""
    p = paginate(select(Appeal).where(Appeal.status == AppealStatus.OPEN.value)
                 .order_by(Appeal.due_at, Appeal.id), page, 20)
    overdue = db.session.scalar(select(func.count()).select_from(Appeal).where(
        Appeal.status == AppealStatus.OPEN.value, Appeal.due_at < now))
    return Queue(p.items, overdue, p.page, p.pages)


@dataclass(frozen=True)
class Review:
    """An appeal with what the member was looking at when they raised it: the receipt of the
    store purchase a statement line belongs to, or the order (and the coupons used on it)."""
    appeal: Appeal
    receipt: Receipt | None
    order: Order | None
    order_coupons: list


def review(appeal_id: int, *, now: datetime) -> Review:
    """One appeal (open or resolved) for HQ, with its context. For HQ only: the receipt is
    read whoever's it is. A statement line that is no purchase's (a check-in, a grant) has
    no receipt; its line is the context. Writes nothing (reading is not audited)."""
    appeal = member_appeal(appeal_id, None)
    receipt = None
    if appeal.entry is not None:
        purchase_id = purchase_id_of(appeal.entry)
        if purchase_id is not None:
            try:
                receipt = receipt_for_review(purchase_id, now=now)
            except NotFound:  # an entry naming no claimed purchase: the line alone is the context
                receipt = None
    coupons = used_on_order(appeal.order.id) if appeal.order is not None else []
    return Review(appeal, receipt, appeal.order, coupons)


def _locked_open(appeal_id: int) -> Appeal:
    # OF appeals: the subject (entry, order) is joined in eagerly by an outer join, whose
    # nullable side PostgreSQL refuses to lock
    appeal = db.session.scalar(select(Appeal).where(Appeal.id == appeal_id).with_for_update(of=Appeal))
    if appeal is None:
        raise NotFound()
    if not appeal.is_open:
        raise AppealAlreadyResolved()
    return appeal


def _tell(appeal: Appeal, now: datetime) -> None:
    notify(appeal.member_id, "appeal", f"appeal:{appeal.id}:{appeal.status}",
           {"appeal_id": appeal.id, "status": appeal.status, "points": appeal.adjustment_points or 0,
            "reply": appeal.reply or ""}, now)


def _credit(appeal: Appeal, points: int, *, reply: str, actor_id: int, now: datetime) -> int:
    """Credit the appeal's points now through the appeals budget; returns the ledger entry's id.
    Resolving is HQ's own decision, so a grant is never held for a second approval: when the
    budget can't take the points (whether it holds or refuses when used up), the savepoint
    undoes everything the attempt wrote (a held grant, the budget created on first use, the
    budget alert) and AppealsBudgetUsedUp is raised."""
    try:
        with db.session.begin_nested():
            grant = issue_discretionary(
                appeal.member_id, points, store_id=None, kind=GrantKind.MANUAL.value, reason="appeal",
                source="appeal", key=f"appeal:{appeal.id}", now=now, actor_id=actor_id, note=reply[:255],
                expires_at=expiry_for(tier_status(appeal.member_id, now).tier, now), programme=APPEALS_BUDGET,
                detail={"appeal_id": appeal.id}, reference=f"appeal {appeal.id}")
            if grant is None or grant.entry_id is None:  # held: nothing credited
                raise AppealsBudgetUsedUp()
    except BudgetRefused as refused:
        raise AppealsBudgetUsedUp() from refused
    return grant.entry_id


def resolve(appeal_id: int, *, points: int | None, reply: str, actor_id: int, now: datetime) -> Appeal:
    """Close an open appeal with a reply, and with `points` credited when given. The credit
    goes through the appeals budget and is never held: AppealsBudgetUsedUp (the budget can't
    take the points this month) leaves everything as it was."""
    reply = _need_text(reply, "reply")
    if points is not None and (isinstance(points, bool) or not isinstance(points, int)
                               or not 0 < points <= MAX_ADJUSTMENT):
        raise InvalidAmount(field="points")
    appeal = _locked_open(appeal_id)
    if points:
        appeal.adjustment_entry_id = _credit(appeal, points, reply=reply, actor_id=actor_id, now=now)
        appeal.adjustment_points = points
    appeal.status = (AppealStatus.ADJUSTED if points else AppealStatus.ANSWERED).value
    appeal.reply, appeal.resolver_id, appeal.resolved_at = reply, actor_id, now
    db.session.flush()
    audit(actor_id, "appeal_resolved", "appeal", appeal.id, reply, now, points=points or 0)
    _tell(appeal, now)
    return appeal
