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

A purchase has lines (SKU, name, category, quantity, amount, excluded from earning); one
sent without lines is one line of the default category for its whole amount. The lines go
with the purchase-recorded event, so the rules apply per line, and each line keeps the
points it earned.

A refund reverses the purchase's points, all of it or chosen lines and quantities: inside
the return window they are still pending and are simply cancelled (never spent, so nothing
can be owed); after it, by the clawback rule (mall/instore/clawbacks.py). A partial refund gives back, per line, the
line's remaining points × the units refunded ÷ the units it still holds, rounded down (the
last unit gives back the rest: mall/proportion.py), and is idempotent by its refund number.
"""
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..accounts.models import Role, User
from ..errors import InvalidAmount
from ..events import purchase_recorded, purchase_refunded
from ..extensions import db
from ..idempotency import insert_once
from ..risk.services import check_earn_velocity
from ..wallet.redeem import give_back as give_back_wallet_items
from ..points.ledger import cancel_pending, pending_lot, take_back_spend
from ..points.models import LedgerEntry
from ..proportion import portion
from .categories import known_categories
from .clawbacks import settle_clawbacks, take_back_points
from .codes import read_receipt_token
from .errors import (InvalidCode, InvalidLines, InvalidReceipt, MemberFrozen, MemberNotFound, PurchaseNotFound,
                     PurchaseRefunded, ReceiptClaimedByOther, ReceiptExpired, ReceiptMismatch, RefundConflict)
from .models import Clawback, Purchase, PurchaseLine, PurchaseRefund, PurchaseStatus, Store

SOURCE = "receipt"
MAX_AMOUNT_MINOR = 100_000_000  # ¥1,000,000 on one receipt is a typo, not a purchase
# The one shape of a receipt number, for the counter, the POS API and its OpenAPI document:
# whatever can be earned can be refunded through /api/v1/purchases/<receipt_no>/refund.
RECEIPT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 ._/-]{0,39}$"

MAX_LINES = 200
MAX_QUANTITY = 100_000


@dataclass(frozen=True)
class LineInput:
    """A receipt line as the till or the counter sends it."""
    amount_minor: int
    category: str = ""
    sku: str = ""
    name: str = ""
    quantity: int = 1
    excluded: bool = False


def _check_lines(lines: list[LineInput], amount_minor: int) -> list[LineInput]:
    """The lines, normalised; their amounts must add up to the purchase's. Raises InvalidLines."""
    if not 1 <= len(lines) <= MAX_LINES:
        raise InvalidLines(field="lines")
    known = known_categories()
    out = []
    for n, line in enumerate(lines, start=1):
        category = (line.category or "").strip().lower()
        if category and category not in known:
            raise InvalidLines(_l("Line %(n)s: unknown category %(category)s.", n=n, category=category[:40]),
                               field="lines")
        for value, top in ((line.quantity, MAX_QUANTITY), (line.amount_minor, MAX_AMOUNT_MINOR)):
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= top:
                raise InvalidLines(_l("Line %(n)s: check its quantity and amount.", n=n), field="lines")
        if line.quantity < 1:
            raise InvalidLines(_l("Line %(n)s: check its quantity and amount.", n=n), field="lines")
        out.append(LineInput(amount_minor=line.amount_minor, category=category, sku=(line.sku or "").strip()[:40],
                             name=(line.name or "").strip()[:120], quantity=line.quantity,
                             excluded=bool(line.excluded) or (category in known and known[category].excluded)))
    if sum(line.amount_minor for line in out) != amount_minor:
        raise InvalidLines(_l("The lines add up to %(sum)s, not the amount paid (%(amount)s).",
                              sum=_money(sum(line.amount_minor for line in out)), amount=_money(amount_minor)),
                           field="lines")
    return out


def _money(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d}"


def _same_lines(purchase: Purchase, lines: list[LineInput] | None) -> bool:
    if lines is None:
        return True
    return [(l.sku, l.name, l.category, l.quantity, l.amount_minor, l.excluded) for l in purchase.lines] == \
        [(l.sku, l.name, l.category, l.quantity, l.amount_minor, l.excluded) for l in lines]


def normalise_receipt(receipt_no: str) -> str:
    return " ".join((receipt_no or "").split()).upper()


def valid_receipt(receipt_no: str) -> bool:
    """True for a normalised receipt number of the one accepted shape (RECEIPT_PATTERN)."""
    return re.fullmatch(RECEIPT_PATTERN, receipt_no) is not None


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


def find_purchase(store_id: int, receipt_no: str, *, lock: bool = False) -> Purchase | None:
    """The store's purchase with this receipt number (normalised), or None; `lock`: its row
    locked, as a refund locks it."""
    return _by_receipt(store_id, normalise_receipt(receipt_no or ""), lock=lock)


def _locked(purchase_id: int) -> Purchase | None:
    return db.session.scalar(select(Purchase).where(Purchase.id == purchase_id).with_for_update()
                             .execution_options(populate_existing=True))


def create_purchase(store_id: int, receipt_no: str, amount_minor: int, *, now: datetime, code_hours: int,
                    created_by_id: int | None = None, api_key_id: int | None = None,
                    lines: list[LineInput] | None = None) -> tuple[Purchase, bool]:
    """Record a purchase awaiting its receipt-QR claim. Returns (purchase, created); the same
    receipt, amount and lines again returns the first one. Without lines the purchase is one
    line of the default category. Raises InvalidAmount, InvalidLines, ReceiptMismatch."""
    _check_amount(amount_minor)
    receipt_no = normalise_receipt(receipt_no)
    if not valid_receipt(receipt_no):
        raise InvalidReceipt()
    if lines is not None:
        lines = _check_lines(lines, amount_minor)
    existing = _by_receipt(store_id, receipt_no)
    if existing is not None:
        if existing.amount_minor != amount_minor or not _same_lines(existing, lines):
            raise ReceiptMismatch()
        return existing, False
    purchase = Purchase(store_id=store_id, receipt_no=receipt_no, amount_minor=amount_minor,
                        status=PurchaseStatus.OPEN, created_by_id=created_by_id, api_key_id=api_key_id,
                        created_at=now, expires_at=now + timedelta(hours=code_hours))
    purchase.lines = [PurchaseLine(line_no=n, sku=l.sku, name=l.name, category=l.category, quantity=l.quantity,
                                   amount_minor=l.amount_minor, excluded=l.excluded)
                      for n, l in enumerate(lines or [LineInput(amount_minor)], start=1)]
    _, created = insert_once(lambda: db.session.add(purchase))
    if not created:  # the same receipt sent twice at once: the other one won
        existing = _by_receipt(store_id, receipt_no)
        if existing is None or existing.amount_minor != amount_minor or not _same_lines(existing, lines):
            raise ReceiptMismatch() from None
        return existing, False
    return purchase, True


def _event_lines(purchase: Purchase) -> list[dict]:
    """The lines still held (net of refunds made before the claim), with category names."""
    known = known_categories()
    out = []
    for line in purchase.lines:
        if line.open_quantity <= 0:
            continue
        info = known.get(line.category)
        out.append({"line_no": line.line_no, "sku": line.sku, "name": line.name, "category": line.category,
                    "category_name": info.name if info else None, "category_name_zh": info.name_zh if info else None,
                    "quantity": line.open_quantity, "amount_minor": line.open_amount_minor,
                    "excluded": line.excluded})
    return out


def _credit(purchase: Purchase, member_id: int, now: datetime, minor_per_point: int) -> LedgerEntry | None:
    """Bind the locked purchase to the member and credit it once; settle clawbacks after."""
    key = f"purchase:{purchase.id}"
    lines = _event_lines(purchase)
    spend = sum(line["amount_minor"] for line in lines)
    if spend > 0:
        purchase_recorded.send("instore", member_id=member_id, spend_minor=spend,
                               minor_per_point=minor_per_point, source=SOURCE, key=key, now=now,
                               store_id=purchase.store_id, reference=purchase.receipt_no, lines=lines)
    entry = db.session.scalar(select(LedgerEntry).where(LedgerEntry.source == SOURCE,
                                                        LedgerEntry.idempotency_key == key))
    purchase.member_id, purchase.status, purchase.claimed_at = member_id, PurchaseStatus.CLAIMED, now
    purchase.earn_entry_id = entry.id if entry is not None else None
    purchase.points = entry.points if entry is not None else 0
    earned = {int(l["line_no"]): int(l["points"]) for l in (entry.detail or {}).get("lines", [])} if entry else {}
    if entry is not None and not earned:  # an entry from before lines: all on the first held line
        earned = {lines[0]["line_no"]: entry.points}
    for line in purchase.lines:
        line.points = earned.get(line.line_no, 0)
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
                    code_hours: int, minor_per_point: int, api_key_id: int | None = None,
                    lines: list[LineInput] | None = None) -> tuple[Purchase, bool]:
    """The POS names the member: record and credit at once. Idempotent by (store, receipt):
    a retry returns (the first purchase, False). Raises ReceiptMismatch for the same receipt
    with another amount or member, MemberFrozen, PurchaseRefunded."""
    member = db.session.get(User, member_id)
    if member is None or member.role != Role.MEMBER.value:
        raise MemberNotFound()
    purchase, created = create_purchase(store_id, receipt_no, amount_minor, now=now, code_hours=code_hours,
                                        api_key_id=api_key_id, lines=lines)
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
    amount_minor: int = 0  # what this refund gave back, in minor units (0 for a refund from before lines)


@dataclass(frozen=True)
class RefundLine:
    line_no: int
    quantity: int | None = None   # None: every unit the line still holds


def _refund_outcome(purchase: Purchase, again: bool, refund_no: str = "") -> Refund:
    row = db.session.scalar(select(PurchaseRefund).where(PurchaseRefund.purchase_id == purchase.id,
                                                         PurchaseRefund.refund_no == refund_no))
    if row is not None:
        return Refund(purchase, row.reversed_points, row.clawback_points, again, row.amount_minor)
    # A full refund made before refunds were recorded per refund (or all lines refunded by
    # partial refunds before this full one): the purchase-wide figures.
    entry = db.session.scalar(select(LedgerEntry).where(LedgerEntry.source == "receipt-refund",
                                                        LedgerEntry.idempotency_key == f"purchase:{purchase.id}"))
    claw = db.session.scalar(select(Clawback).where(Clawback.purchase_id == purchase.id))
    return Refund(purchase, -entry.points if entry else 0, claw.points if claw else 0, again)


def _chosen(purchase: Purchase, lines: list[RefundLine] | None) -> list[tuple[PurchaseLine, int]]:
    """(line, units to refund) for the request; every held unit without lines. Raises InvalidLines."""
    by_no = {line.line_no: line for line in purchase.lines}
    if lines is None:
        return [(line, line.open_quantity) for line in purchase.lines if line.open_quantity > 0]
    if not lines or len({l.line_no for l in lines}) != len(lines):
        raise InvalidLines(_l("Name each line to refund once."), field="lines")
    chosen = []
    for wanted in lines:
        line = by_no.get(wanted.line_no)
        if line is None:
            raise InvalidLines(_l("There is no line %(n)s on this receipt.", n=wanted.line_no), field="lines")
        quantity = line.open_quantity if wanted.quantity is None else wanted.quantity
        if not isinstance(quantity, int) or isinstance(quantity, bool) or not 1 <= quantity <= line.open_quantity:
            raise InvalidLines(_l("Line %(n)s has %(left)s unit(s) left to refund.", n=line.line_no,
                                  left=line.open_quantity), field="lines")
        chosen.append((line, quantity))
    return chosen


def refund_purchase(store_id: int, receipt_no: str, *, now: datetime, lines: list[RefundLine] | None = None,
                    refund_no: str | None = None) -> Refund:
    """Refund a purchase (all of it, or `lines` with their quantities) and take back the
    points of what was refunded by the clawback rule: per line, the line's remaining points
    × units refunded ÷ units it still holds, rounded down, all of them with its last unit
    (mall/proportion.py). Only points the member already spent become a clawback.

    Idempotent: the full refund (no lines) once per purchase; a partial refund once per
    refund_no, which it requires. A second call changes nothing and returns the first
    outcome. Raises PurchaseNotFound, InvalidLines, RefundConflict (the refund number was
    used for other lines)."""
    purchase = _by_receipt(store_id, normalise_receipt(receipt_no), lock=True)
    if purchase is None:
        raise PurchaseNotFound()
    refund_no = normalise_receipt(refund_no or "")
    if lines is not None and not refund_no:
        raise InvalidLines(_l("A refund of some lines needs its refund number."), field="refund_no")
    if len(refund_no) > 40:
        raise InvalidLines(_l("A refund number has up to 40 characters."), field="refund_no")
    done = db.session.scalar(select(PurchaseRefund).where(PurchaseRefund.purchase_id == purchase.id,
                                                          PurchaseRefund.refund_no == refund_no))
    if done is not None:
        asked = None if lines is None else sorted((l.line_no, l.quantity) for l in lines)
        given = sorted((l["line_no"], l["quantity"]) for l in done.lines)
        if asked is not None and any(q is not None for _, q in asked) and asked != given:
            raise RefundConflict()
        return _refund_outcome(purchase, again=True, refund_no=refund_no)
    if purchase.status == PurchaseStatus.REFUNDED:
        if lines is not None:
            raise PurchaseRefunded()
        return _refund_outcome(purchase, again=True)
    chosen = _chosen(purchase, lines)
    refunded, amount, back = [], 0, 0
    for line, quantity in chosen:
        line_amount = portion(line.open_amount_minor, quantity, line.open_quantity)
        line_points = portion(line.points - line.refunded_points, quantity, line.open_quantity) \
            if purchase.status == PurchaseStatus.CLAIMED else 0
        line.refunded_quantity += quantity
        line.refunded_amount_minor += line_amount
        line.refunded_points += line_points
        amount, back = amount + line_amount, back + line_points
        refunded.append({"line_no": line.line_no, "quantity": quantity, "amount_minor": line_amount,
                         "points": line_points})
    if all(line.open_quantity == 0 for line in purchase.lines):
        purchase.status, purchase.refunded_at = PurchaseStatus.REFUNDED, now
        # A coupon spent on it comes back while still valid (a partial refund keeps it spent).
        give_back_wallet_items(purchase_id=purchase.id, now=now)
    taken = owed = 0
    if purchase.member_id is not None and back > 0:
        taken, owed = _take_back(purchase, back, amount, refund_no, now)
    elif purchase.member_id is not None and purchase.earn_entry_id is not None:
        _take_back_spend(purchase, amount, refund_no, now)  # lines that earned nothing: their spend still goes
    if purchase.member_id is not None:  # its bonus held over budget (or approved, still pending) is forfeited
        purchase_refunded.send("instore", member_id=purchase.member_id, source=SOURCE, key=f"purchase:{purchase.id}",
                               full=purchase.status == PurchaseStatus.REFUNDED, now=now, reference=purchase.receipt_no)
    db.session.add(PurchaseRefund(purchase_id=purchase.id, refund_no=refund_no, lines=refunded, amount_minor=amount,
                                  reversed_points=taken, clawback_points=owed, created_at=now))
    db.session.flush()
    return _refund_outcome(purchase, again=False, refund_no=refund_no)


def _take_back_spend(purchase: Purchase, amount: int, refund_no: str, now: datetime) -> None:
    """The refund's spend off the tier window with a 0-point line, when no points line carries it."""
    store = db.session.get(Store, purchase.store_id)
    take_back_spend(purchase.member_id, amount, reason="purchase_refund", source="receipt-refund",
                    key=f"purchase:{purchase.id}" + (f":{refund_no}" if refund_no else ""), now=now,
                    reference=purchase.receipt_no, store_id=purchase.store_id,
                    detail={"spend_minor": amount, "points": 0, "purchase_points": purchase.points,
                            "partial": bool(refund_no), "store": store.name if store else ""})


def _take_back(purchase: Purchase, points: int, amount: int, refund_no: str, now: datetime) -> tuple[int, int]:
    """Take `points` back by the clawback rule; what can't be taken is owed on the purchase's
    one clawback. Returns (taken now, owed)."""
    store = db.session.get(Store, purchase.store_id)
    key = f"purchase:{purchase.id}" + (f":{refund_no}" if refund_no else "")
    if pending_lot(purchase.earn_entry_id) is not None:  # inside the return window: cancel, never claw back
        entry = cancel_pending(purchase.earn_entry_id, points=points, reason="purchase_refund", source="receipt-refund",
                               key=key, now=now, spend_minor=amount, reference=purchase.receipt_no,
                               store_id=purchase.store_id,
                               detail={"spend_minor": amount, "points": points, "purchase_points": purchase.points,
                                       "partial": bool(refund_no), "pending": True,
                                       "store": store.name if store else ""})
        if entry is not None and -entry.points == points:
            return points, 0
        if entry is not None:  # cannot happen (pending points are never spent); claw back the rest
            points, amount = points + entry.points, 0
    entry = take_back_points(purchase.member_id, points, reason="purchase_refund", source="receipt-refund",
                             key=key, now=now, first_entry_id=purchase.earn_entry_id, spend_minor=amount,
                             reference=purchase.receipt_no, store_id=purchase.store_id,
                             detail={"spend_minor": amount, "points": points, "purchase_points": purchase.points,
                                     "partial": bool(refund_no), "store": store.name if store else ""})
    taken = -entry.points if entry is not None else 0
    owed = points - taken
    if entry is None:  # nothing to take now: the spend still leaves the tier window at once
        _take_back_spend(purchase, amount, refund_no, now)
    if owed > 0:
        claw = db.session.scalar(select(Clawback).where(Clawback.purchase_id == purchase.id).with_for_update())
        due = 0  # the spend was taken back above (spend_minor_due: older clawbacks only)
        if claw is None:
            db.session.add(Clawback(member_id=purchase.member_id, purchase_id=purchase.id, points=owed, settled=0,
                                    spend_minor_due=due, created_at=now))
        else:
            claw.points, claw.spend_minor_due, claw.settled_at = claw.points + owed, claw.spend_minor_due + due, None
    return taken, owed
