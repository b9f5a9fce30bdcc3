"""Store purchases that earn points: by receipt QR (the member scans it) or directly from
the POS API (the till names the member). One purchase earns once (DESIGN.md #3):

- a purchase is unique per (store, receipt number): the POS retrying an earn finds the first
  one, and the same receipt number with another amount or member is refused;
- a receipt code is bound to the first member who claims it (a conditional write on the
  locked purchase row); the same member scanning again sees what they got, another member
  is refused, and an expired or refunded code earns nothing;
- the points are credited with the idempotency key `purchase:<id>`, by the earning rules:
  the purchase-recorded event (mall/events.py), which engagement's earning receives, so the
  statement line explains them.

A refund reverses the purchase's points: inside the return window they are still pending
and are simply cancelled (never spent, so nothing can be owed); after it, by the clawback
rule (mall/instore/clawbacks.py).
"""
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from ..accounts.models import Role, User
from ..errors import InvalidAmount
from ..events import purchase_recorded
from ..extensions import db
from ..idempotency import insert_once
from ..risk.services import check_earn_velocity
from ..points.ledger import cancel_pending, pending_lot
from ..points.models import LedgerEntry
from .clawbacks import settle_clawbacks, take_back_points
from .codes import read_receipt_token
from .errors import (InvalidCode, InvalidReceipt, MemberFrozen, MemberNotFound, PurchaseNotFound, PurchaseRefunded,
                     ReceiptClaimedByOther, ReceiptExpired, ReceiptMismatch)
from .models import Clawback, Purchase, PurchaseStatus, Store

SOURCE = "receipt"
MAX_AMOUNT_MINOR = 100_000_000  # ¥1,000,000 on one receipt is a typo, not a purchase


def normalise_receipt(receipt_no: str) -> str:
    return " ".join((receipt_no or "").split()).upper()


def find_member(*, mobile: str | None = None, member_code: str | None = None) -> User:
    """A member by mobile number or member code. Raises MemberNotFound."""
    where = []
    if mobile:
        where.append(User.mobile == mobile.strip().replace(" ", ""))
    if member_code:
        where.append(User.member_code == member_code.strip().upper())
    member = db.session.scalar(select(User).where(User.role == Role.MEMBER.value, *where)) if where else None
    if member is None:
        raise MemberNotFound()
    return member


def _check_amount(amount_minor) -> None:
    if not isinstance(amount_minor, int) or isinstance(amount_minor, bool) \
            or not 0 < amount_minor <= MAX_AMOUNT_MINOR:
        raise InvalidAmount(field="amount")


def _by_receipt(store_id: int, receipt_no: str, *, lock: bool = False) -> Purchase | None:
    query = select(Purchase).where(Purchase.store_id == store_id, Purchase.receipt_no == receipt_no)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return db.session.scalar(query)


def _locked(purchase_id: int) -> Purchase | None:
    return db.session.scalar(select(Purchase).where(Purchase.id == purchase_id).with_for_update()
                             .execution_options(populate_existing=True))


def create_purchase(store_id: int, receipt_no: str, amount_minor: int, *, now: datetime, code_hours: int,
                    created_by_id: int | None = None, api_key_id: int | None = None) -> tuple[Purchase, bool]:
    """Record a purchase awaiting its receipt-QR claim. Returns (purchase, created); the same
    receipt and amount again returns the first one. Raises InvalidAmount, ReceiptMismatch."""
    _check_amount(amount_minor)
    receipt_no = normalise_receipt(receipt_no)
    if not receipt_no or len(receipt_no) > 40:
        raise InvalidReceipt()
    existing = _by_receipt(store_id, receipt_no)
    if existing is not None:
        if existing.amount_minor != amount_minor:
            raise ReceiptMismatch()
        return existing, False
    purchase = Purchase(store_id=store_id, receipt_no=receipt_no, amount_minor=amount_minor,
                        status=PurchaseStatus.OPEN, created_by_id=created_by_id, api_key_id=api_key_id,
                        created_at=now, expires_at=now + timedelta(hours=code_hours))
    _, created = insert_once(lambda: db.session.add(purchase))
    if not created:  # the same receipt sent twice at once: the other one won
        existing = _by_receipt(store_id, receipt_no)
        if existing is None or existing.amount_minor != amount_minor:
            raise ReceiptMismatch() from None
        return existing, False
    return purchase, True


def _credit(purchase: Purchase, member_id: int, now: datetime, minor_per_point: int) -> LedgerEntry | None:
    """Bind the locked purchase to the member and credit it once; settle clawbacks after."""
    key = f"purchase:{purchase.id}"
    purchase_recorded.send("instore", member_id=member_id, spend_minor=purchase.amount_minor,
                           minor_per_point=minor_per_point, source=SOURCE, key=key, now=now,
                           store_id=purchase.store_id, reference=purchase.receipt_no)
    entry = db.session.scalar(select(LedgerEntry).where(LedgerEntry.source == SOURCE,
                                                        LedgerEntry.idempotency_key == key))
    purchase.member_id, purchase.status, purchase.claimed_at = member_id, PurchaseStatus.CLAIMED, now
    purchase.earn_entry_id = entry.id if entry is not None else None
    purchase.points = entry.points if entry is not None else 0
    db.session.flush()
    settle_clawbacks(member_id, now)
    return entry


@dataclass(frozen=True)
class Claim:
    purchase: Purchase
    points: int
    again: bool   # this member had already claimed it: nothing new was credited


def claim_receipt(token: str, member_id: int, *, now: datetime, minor_per_point: int,
                  device: str | None = None, ip: str | None = None) -> Claim:
    """A member scanned a receipt QR. Raises InvalidCode (forged or tampered), ReceiptExpired,
    ReceiptClaimedByOther, PurchaseRefunded, MemberFrozen, or risk.services.EarningTooFast past
    the earning velocity limits per member, device (cookie) and address (then nothing is
    written and the receipt stays claimable)."""
    purchase_id = read_receipt_token(token)
    purchase = _locked(purchase_id) if purchase_id else None  # two scans queue on this row
    if purchase is None:
        raise InvalidCode()
    if purchase.status == PurchaseStatus.REFUNDED:
        raise PurchaseRefunded()
    if purchase.member_id is not None:
        if purchase.member_id != member_id:
            raise ReceiptClaimedByOther()
        return Claim(purchase, purchase.points, again=True)
    if purchase.expires_at <= now:
        raise ReceiptExpired()
    if db.session.get(User, member_id).is_frozen:
        raise MemberFrozen()
    # Member-started earning only: the POS API's earn_for_member is the store's own server.
    check_earn_velocity(member_id, device=device, ip=ip, now=now)
    _credit(purchase, member_id, now, minor_per_point)
    return Claim(purchase, purchase.points, again=False)


def earn_for_member(store_id: int, receipt_no: str, amount_minor: int, member_id: int, *, now: datetime,
                    code_hours: int, minor_per_point: int, api_key_id: int | None = None) -> tuple[Purchase, bool]:
    """The POS names the member: record and credit at once. Idempotent by (store, receipt):
    a retry returns (the first purchase, False). Raises ReceiptMismatch for the same receipt
    with another amount or member, MemberFrozen, PurchaseRefunded."""
    member = db.session.get(User, member_id)
    if member is None or member.role != Role.MEMBER.value:
        raise MemberNotFound()
    purchase, created = create_purchase(store_id, receipt_no, amount_minor, now=now, code_hours=code_hours,
                                        api_key_id=api_key_id)
    purchase = _locked(purchase.id)
    if purchase.status == PurchaseStatus.REFUNDED:
        raise PurchaseRefunded()
    if purchase.member_id is not None:
        if purchase.member_id != member_id:
            raise ReceiptMismatch()
        return purchase, False
    if member.is_frozen:
        raise MemberFrozen()
    _credit(purchase, member_id, now, minor_per_point)
    return purchase, created


@dataclass(frozen=True)
class Refund:
    purchase: Purchase
    reversed_points: int   # taken back from the balance now
    clawback_points: int   # still owed; settled by later earnings
    again: bool


def _refund_outcome(purchase: Purchase, again: bool) -> Refund:
    entry = db.session.scalar(select(LedgerEntry).where(LedgerEntry.source == "receipt-refund",
                                                        LedgerEntry.idempotency_key == f"purchase:{purchase.id}"))
    claw = db.session.scalar(select(Clawback).where(Clawback.purchase_id == purchase.id))
    return Refund(purchase, -entry.points if entry else 0, claw.points if claw else 0, again)


def refund_purchase(store_id: int, receipt_no: str, *, now: datetime) -> Refund:
    """Refund a purchase in full and take back its points: inside the return window its
    pending points are cancelled (no clawback can arise); after it, by the clawback rule.
    A second call changes nothing and returns the first outcome. Raises PurchaseNotFound."""
    purchase = _by_receipt(store_id, normalise_receipt(receipt_no), lock=True)
    if purchase is None:
        raise PurchaseNotFound()
    if purchase.status == PurchaseStatus.REFUNDED:
        return _refund_outcome(purchase, again=True)
    was_claimed = purchase.status == PurchaseStatus.CLAIMED
    purchase.status, purchase.refunded_at = PurchaseStatus.REFUNDED, now
    if was_claimed and purchase.points > 0:
        store = db.session.get(Store, purchase.store_id)
        if pending_lot(purchase.earn_entry_id) is not None:
            entry = cancel_pending(purchase.earn_entry_id, reason="purchase_refund", source="receipt-refund",
                                   key=f"purchase:{purchase.id}", now=now, spend_minor=purchase.amount_minor,
                                   reference=purchase.receipt_no, store_id=purchase.store_id,
                                   detail={"spend_minor": purchase.amount_minor, "points": purchase.points,
                                           "store": store.name if store else "", "pending": True})
            if entry is not None:
                db.session.flush()
                return _refund_outcome(purchase, again=False)
        entry = take_back_points(purchase.member_id, purchase.points, reason="purchase_refund",
                                 source="receipt-refund", key=f"purchase:{purchase.id}", now=now,
                                 first_entry_id=purchase.earn_entry_id, spend_minor=purchase.amount_minor,
                                 reference=purchase.receipt_no, store_id=purchase.store_id,
                                 detail={"spend_minor": purchase.amount_minor, "points": purchase.points,
                                         "store": store.name if store else ""})
        taken = -entry.points if entry is not None else 0
        if taken < purchase.points:
            db.session.add(Clawback(member_id=purchase.member_id, purchase_id=purchase.id,
                                    points=purchase.points - taken, settled=0,
                                    spend_minor_due=0 if entry is not None else purchase.amount_minor,
                                    created_at=now))
    db.session.flush()
    return _refund_outcome(purchase, again=False)

