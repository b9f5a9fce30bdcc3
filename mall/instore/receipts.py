"""A member's receipt page for one of their store purchases: where and when, its lines, the
coupons used at the till, the points it earned and how, and its refunds. Read only.

Only the member the purchase was credited to may see it; for anyone else (and for an id
that doesn't exist) it is NotFound, so a probed id says nothing about other members.

A statement line leads here from the ledger entry itself (`purchase_id_of`): purchases are
credited under the key `purchase:<id>` (purchases.py), and their refunds, clawbacks and
held bonuses name the purchase too, so the statement needs no extra query per line.
"""
import re
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from ..catalog.services import names_by_sku
from ..errors import NotFound
from ..extensions import db
from ..points.models import LedgerEntry
from ..points.statement import pending_dates
from ..wallet.services import used_on_purchase
from .categories import known_categories
from .models import Purchase, PurchaseLine, PurchaseRefund, PurchaseStatus
from .purchases import SOURCE

_PURCHASE_KEY = re.compile(r"^purchase:(\d{1,10})(?::|$)")   # earn and refund entries
_BONUS_KEY = re.compile(r"^receipt:purchase:(\d{1,10})$")     # a purchase's bonus held for HQ, then approved
REFUND_SOURCE = "receipt-refund"


def purchase_id_of(entry) -> int | None:
    """The store purchase a ledger entry belongs to, from the entry alone, else None."""
    match = None
    if entry.source in (SOURCE, REFUND_SOURCE):
        match = _PURCHASE_KEY.match(entry.idempotency_key or "")
    elif entry.source == "bonus":
        match = _BONUS_KEY.match(entry.idempotency_key or "")
    elif entry.source == "clawback":
        value = (entry.detail or {}).get("purchase_id")
        return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None
    return int(match.group(1)) if match else None


@dataclass(frozen=True)
class ReceiptLine:
    line_no: int
    name: str                  # as the till sent it
    name_zh: str | None        # the catalogue item's Chinese name, when the line's SKU is a catalogue item
    sku: str
    category_name: str | None  # None: the default category (a line sent without one)
    category_name_zh: str | None
    quantity: int
    amount_minor: int
    excluded: bool             # never earns (gift cards, deposits...)
    points: int                # earned when the purchase was credited
    refunded_quantity: int
    refunded_amount_minor: int
    refunded_points: int

    @property
    def fully_refunded(self) -> bool:
        return self.refunded_quantity >= self.quantity


@dataclass(frozen=True)
class ReceiptCoupon:
    name: str
    name_zh: str | None
    kind: str                  # threshold, percent, amount, red_packet...
    discount_minor: int


@dataclass(frozen=True)
class RefundedLine:
    line_no: int
    name: str
    name_zh: str | None
    quantity: int
    amount_minor: int
    points: int


@dataclass(frozen=True)
class ReceiptRefund:
    at: datetime | None
    whole: bool                # everything the purchase still held (else chosen lines)
    lines: list[RefundedLine]
    amount_minor: int
    points_taken: int          # taken back (or cancelled while pending) at once
    points_owed: int           # already spent: taken from the member's next points
    entry_id: int | None       # its statement line, to question it


@dataclass(frozen=True)
class CategoryName:
    name: str
    name_zh: str | None


@dataclass(frozen=True)
class PointsPart:
    """One step of how the points were worked out, with the points it added."""
    kind: str                  # base, tier, rule, cap, excluded
    name: str = ""
    name_zh: str | None = None
    value: int = 0             # a multiplier or bonus in percent, flat points, or the base rate
    unit: str = "pct"          # pct, points, rate
    points: int = 0
    categories: list[CategoryName] = field(default_factory=list)   # the lines' categories it applies to
    spend_minor: int | None = None

    @property
    def multiplier(self) -> str:
        """120 (percent) as "1.2", as the statement writes multipliers."""
        whole, frac = divmod(self.value, 100)
        return f"{whole}" if frac == 0 else f"{whole}.{frac:02d}".rstrip("0")


@dataclass(frozen=True)
class Receipt:
    purchase_id: int
    receipt_no: str
    store_name: str
    store_name_zh: str | None
    at: datetime               # when the till recorded it (UTC; shown in the shop's zone)
    status: str                # claimed or refunded
    itemised: bool             # False: an old POS call sent the total only
    lines: list[ReceiptLine]
    subtotal_minor: int
    coupons: list[ReceiptCoupon]
    discount_minor: int
    paid_minor: int
    points: int                # credited for it (0: too small to earn, or nothing earns)
    earn_entry_id: int | None  # its statement line, to question it
    parts: list[PointsPart]
    bonus_held: int            # bonus points waiting for HQ's approval (the budget was used up)
    bonus_refused: int
    pending_until: datetime | None   # inside the return window: not spendable before this
    refunds: list[ReceiptRefund]
    refunded_minor: int
    points_taken_back: int

    @property
    def refunded(self) -> bool:
        return self.status == PurchaseStatus.REFUNDED


def member_receipt(purchase_id: int, member_id: int, *, now: datetime) -> Receipt:
    """The member's own purchase as its receipt page shows it. Raises NotFound for a purchase
    that isn't theirs or doesn't exist. Writes nothing."""
    purchase = db.session.get(Purchase, purchase_id)
    if purchase is None or purchase.member_id is None or purchase.member_id != member_id:
        raise NotFound()
    categories = known_categories()
    catalogue = names_by_sku(line.sku for line in purchase.lines)
    lines = [_line(line, categories, catalogue) for line in purchase.lines]
    by_no = {line.line_no: line for line in lines}
    coupons = [ReceiptCoupon(c.name, c.name_zh, c.kind, c.discount_minor or 0) for c in used_on_purchase(purchase.id)]
    discount = sum(c.discount_minor for c in coupons)
    entry = db.session.get(LedgerEntry, purchase.earn_entry_id) if purchase.earn_entry_id else None
    detail = (entry.detail or {}) if entry is not None else {}
    pending = pending_dates([entry.id]).get(entry.id) if entry is not None else None
    refunds = _refunds(purchase, by_no, member_id)
    return Receipt(
        purchase_id=purchase.id, receipt_no=purchase.receipt_no, store_name=purchase.store.name,
        store_name_zh=purchase.store.name_zh, at=purchase.created_at, status=purchase.status,
        itemised=any(line.name or line.sku or line.category_name for line in lines), lines=lines,
        subtotal_minor=purchase.amount_minor, coupons=coupons, discount_minor=discount,
        paid_minor=max(purchase.amount_minor - discount, 0), points=entry.points if entry is not None else 0,
        earn_entry_id=entry.id if entry is not None else None, parts=points_parts(detail, categories),
        bonus_held=int(detail.get("bonus_held") or 0), bonus_refused=int(detail.get("bonus_refused") or 0),
        pending_until=pending if pending is not None and pending > now else None, refunds=refunds,
        refunded_minor=sum(line.refunded_amount_minor for line in lines),
        points_taken_back=sum(r.points_taken + r.points_owed for r in refunds))


def _line(line: PurchaseLine, categories: dict, catalogue: dict) -> ReceiptLine:
    info = categories.get(line.category) if line.category else None
    item_name, item_name_zh = catalogue.get(line.sku, (None, None))
    return ReceiptLine(
        line_no=line.line_no, name=line.name or item_name or "", name_zh=item_name_zh, sku=line.sku,
        category_name=info.name if info else (line.category or None),
        category_name_zh=info.name_zh if info else None, quantity=line.quantity, amount_minor=line.amount_minor,
        excluded=line.excluded, points=line.points, refunded_quantity=line.refunded_quantity,
        refunded_amount_minor=line.refunded_amount_minor, refunded_points=line.refunded_points)


def _refunds(purchase: Purchase, by_no: dict[int, ReceiptLine], member_id: int) -> list[ReceiptRefund]:
    rows = list(db.session.scalars(select(PurchaseRefund).where(PurchaseRefund.purchase_id == purchase.id)
                                   .order_by(PurchaseRefund.created_at, PurchaseRefund.id)))
    keys = {f"purchase:{purchase.id}" + (f":{row.refund_no}" if row.refund_no else ""): row for row in rows}
    if not rows and purchase.status == PurchaseStatus.REFUNDED:
        keys[f"purchase:{purchase.id}"] = None  # a full refund from before refunds were recorded one by one
    entries = {e.idempotency_key: e for e in db.session.scalars(select(LedgerEntry).where(
        LedgerEntry.member_id == member_id, LedgerEntry.source == REFUND_SOURCE,
        LedgerEntry.idempotency_key.in_(list(keys))))} if keys else {}
    out = []
    for key, row in keys.items():
        entry = entries.get(key)
        if row is None:  # the purchase-wide figures are all there is
            lines = [RefundedLine(l.line_no, l.name, l.name_zh, l.refunded_quantity, l.refunded_amount_minor,
                                  l.refunded_points) for l in by_no.values() if l.refunded_quantity]
            out.append(ReceiptRefund(purchase.refunded_at, True, lines, sum(l.amount_minor for l in lines),
                                     -entry.points if entry is not None else 0, 0, entry.id if entry else None))
            continue
        lines = []
        for given in row.lines or []:
            shown = by_no.get(given.get("line_no"))
            lines.append(RefundedLine(int(given.get("line_no") or 0), shown.name if shown else "",
                                      shown.name_zh if shown else None, int(given.get("quantity") or 0),
                                      int(given.get("amount_minor") or 0), int(given.get("points") or 0)))
        out.append(ReceiptRefund(row.created_at, not row.refund_no, lines, row.amount_minor, row.reversed_points,
                                 row.clawback_points, entry.id if entry is not None else None))
    return out


def points_parts(detail: dict, categories: dict | None = None) -> list[PointsPart]:
    """How an earn entry's points were worked out, step by step, from the facts it froze:
    the base, the tier's uplift, each rule's bonus (per group of categories when the lines
    earned under different rules), a cap, and the bonuses after the groups. Each part says
    the points it added, so the parts add up to the points worked out. An entry from before
    rules stored their steps has only its base and tier."""
    tier = (detail.get("tier_name") or (detail.get("tier") or "").title(), detail.get("tier_name_zh"))
    groups = detail.get("groups")
    parts: list[PointsPart] = []
    if groups:
        for group in groups:
            names = [_category(slug, name, name_zh, categories) for slug, name, name_zh in group.get("categories", [])]
            if group.get("excluded"):
                parts.append(PointsPart("excluded", categories=names, spend_minor=group.get("spend_minor")))
            else:
                parts += _steps(group.get("steps") or [], tier, names, group.get("spend_minor"))
        final = detail.get("final_steps") or []
    elif detail.get("steps"):
        parts, final = _steps(detail["steps"], tier, [], detail.get("spend_minor")), []
    elif detail.get("base") is not None:
        base = int(detail.get("base") or 0)
        tiered = base * int(detail.get("multiplier_pct") or 100) // 100
        parts = [PointsPart("base", points=base, spend_minor=detail.get("spend_minor"))]
        if tiered != base:
            parts.append(PointsPart("tier", *tier, value=int(detail.get("multiplier_pct") or 100), points=tiered - base))
        final = []
    else:
        final = []
    for step in final:
        parts.append(PointsPart("rule", step.get("name") or "", step.get("name_zh"), int(step.get("value") or 0),
                                "points", int(step.get("value") or 0)))
    return parts


def _category(slug: str, name: str | None, name_zh: str | None, categories: dict | None) -> CategoryName:
    """A category as the entry froze its name ("" for the default category, which has none)."""
    if not name and categories and slug in categories:
        name, name_zh = categories[slug].name, categories[slug].name_zh
    return CategoryName(name or slug or "", name_zh)


def _steps(steps: list[dict], tier: tuple, names: list, spend_minor) -> list[PointsPart]:
    """A group's steps as parts: "×" steps carry the running total after them, "+" steps the
    points they add, a cap the total it cut to."""
    parts, running = [], 0
    for i, step in enumerate(steps):
        op, points = step.get("op"), int(step.get("points") or 0)
        if op == "base":
            running = points
            parts.append(PointsPart("base", value=int(step.get("value") or 0), unit="rate", points=points,
                                    categories=names, spend_minor=spend_minor))
        elif op == "×" and i == 1:  # the member's tier; ×1 adds nothing worth a line
            if int(step.get("value") or 0) != 100:
                parts.append(PointsPart("tier", *tier, value=int(step.get("value") or 0),
                                        points=points - running, categories=names))
            running = points
        elif op == "×":
            parts.append(PointsPart("rule", step.get("name") or "", step.get("name_zh"), int(step.get("value") or 0),
                                    "multiplier", points - running, categories=names))
            running = points
        elif op == "+":
            added = int(step.get("value") or 0) if step.get("unit") == "points" else points
            parts.append(PointsPart("rule", step.get("name") or "", step.get("name_zh"), int(step.get("value") or 0),
                                    "points" if step.get("unit") == "points" else "pct", added, categories=names))
            running += added
        elif op == "cap":
            parts.append(PointsPart("cap", step.get("name") or "", step.get("name_zh"), int(step.get("value") or 0),
                                    "multiplier", points - running, categories=names))
            running = points
    return parts
