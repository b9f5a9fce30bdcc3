"""The one discount computation for coupons and red packets, used by the POS API, the counter
page and the mall checkout (which shows it on the quote and charges the same figure).

Pure: it reads only the wallet item's copied value fields and the lines it is given.

- Eligible lines: the item's category_ids (copied at issue) — none means every line. A mall
  order line matches by catalogue category id; a till line by its category slug, which is
  the catalogue category's slug (as the earning rules match them).
- 满减 (threshold): value_minor off when the eligible subtotal reaches threshold_minor.
- 折扣 (percent): percent of the eligible subtotal, rounded down to the fen, at most
  cap_minor; a threshold_minor > 0 applies as for 满减.
- 无门槛 (amount) and red packets: value_minor, at most the eligible subtotal.
- Free delivery: the delivery fee. Where there is no fee to waive (a store purchase, a
  pickup order) the coupon is refused ("nothing to waive") rather than spent for nothing.
- Several codes at once: every pair must allow each other's kind (`stacks_with`; by default
  a coupon combines with nothing: one per order); the discounts apply in the order given and
  together never exceed the lines' total (the last one is cut down).
"""
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from flask_babel import format_datetime
from flask_babel import lazy_gettext as _l

from ..templating import money
from .models import ItemKind, ItemState


@dataclass(frozen=True)
class Line:
    """What a coupon may reduce: a line's cash amount and its category."""
    amount_minor: int
    category_id: int | None = None
    category_slug: str = ""


@dataclass(frozen=True)
class Discount:
    """The outcome for one wallet item: `refusal` None means it applies."""
    discount_minor: int = 0
    free_delivery: bool = False
    eligible_minor: int = 0
    refusal: str | None = None     # a stable code (the API returns it)
    detail: tuple = ()             # what the message needs

    @property
    def ok(self) -> bool:
        return self.refusal is None

    @property
    def message(self) -> str:
        return refusal_message(self.refusal, self.detail) if self.refusal else ""


REFUSALS = ("used", "expired", "cancelled", "not_yet_valid", "other_store", "not_eligible", "below_threshold",
            "nothing_to_waive", "not_stackable", "duplicate", "not_found", "not_yours")


def refusal_message(code: str, detail: tuple = ()) -> str:
    """The member- and staff-facing sentence for a refusal (in the reader's language)."""
    if code == "expired":
        return str(_l("This coupon expired on %(when)s.", when=format_datetime(detail[0], "medium")))
    if code == "below_threshold":
        return str(_l("Spend %(threshold)s on eligible items to use this coupon (%(so_far)s so far).",
                      threshold=money(detail[0]), so_far=money(detail[1])))
    if code == "not_yet_valid":
        return str(_l("This coupon can be used from %(when)s.", when=format_datetime(detail[0], "medium")))
    return str({
        "used": _l("This coupon has already been used."),
        "cancelled": _l("This coupon was cancelled."),
        "other_store": _l("This coupon can't be used at this store."),
        "not_eligible": _l("Nothing in this purchase is eligible for this coupon."),
        "nothing_to_waive": _l("There is no delivery fee to waive."),
        "not_stackable": _l("These coupons can't be used together."),
        "duplicate": _l("That coupon was given twice."),
        "not_found": _l("We couldn't find that coupon."),
        "not_yours": _l("That coupon belongs to another member."),
    }.get(code, _l("This coupon can't be used here.")))


def eligible_weights(item, lines: Iterable[Line], category_slugs: dict[int, str] | None = None) -> list[int]:
    """Each line's amount that counts for `item` (0 for a line outside its categories): the
    eligible subtotal, and the weights a discount is shared over (mall/proportion.split)."""
    ids = set(item.category_ids or ())
    if not ids:
        return [line.amount_minor for line in lines]
    slugs = {category_slugs[i] for i in ids if category_slugs and i in category_slugs}
    return [line.amount_minor if (line.category_id is not None and line.category_id in ids)
            or (line.category_slug and line.category_slug in slugs) else 0 for line in lines]


def _eligible(item, lines: Iterable[Line], category_slugs: dict[int, str] | None) -> int:
    return sum(eligible_weights(item, lines, category_slugs))


def usable(item, now: datetime, *, store_id: int | None = None) -> Discount | None:
    """A refusal that does not depend on the lines (state, dates, store), else None."""
    if item.state == ItemState.USED.value:
        return Discount(refusal="used")
    if item.state == ItemState.CANCELLED.value:
        return Discount(refusal="cancelled")
    if item.state == ItemState.EXPIRED.value or item.expires_at <= now:
        return Discount(refusal="expired", detail=(item.expires_at,))
    if item.valid_from is not None and item.valid_from > now:
        return Discount(refusal="not_yet_valid", detail=(item.valid_from,))
    if item.store_id is not None and item.store_id != store_id:
        return Discount(refusal="other_store")
    return None


def discount_for(item, lines: Sequence[Line], now: datetime, *, store_id: int | None = None,
                 delivery_minor: int = 0, category_slugs: dict[int, str] | None = None) -> Discount:
    """The discount `item` (a WalletItem) gives on `lines`, or why it can't be used.
    store_id: where it is used (None: the online mall). category_slugs: {category id: slug}
    for matching till lines (see `eligible categories` above)."""
    refused = usable(item, now, store_id=store_id)
    if refused is not None:
        return refused
    if item.kind == ItemKind.FREE_DELIVERY.value:
        if delivery_minor <= 0:
            return Discount(refusal="nothing_to_waive")
        return Discount(discount_minor=delivery_minor, free_delivery=True)
    eligible = _eligible(item, lines, category_slugs)
    if eligible <= 0:
        return Discount(refusal="not_eligible")
    if item.threshold_minor and eligible < item.threshold_minor:
        return Discount(eligible_minor=eligible, refusal="below_threshold", detail=(item.threshold_minor, eligible))
    if item.kind == ItemKind.PERCENT.value:
        off = eligible * item.percent // 100
        if item.cap_minor is not None:
            off = min(off, item.cap_minor)
    else:  # threshold, amount, red_packet
        off = min(item.value_minor, eligible)
    return Discount(discount_minor=off, eligible_minor=eligible)


def _stacks(a, b) -> bool:
    allowed_a = {k for k in (a.stacks_with or "").split(",") if k}
    allowed_b = {k for k in (b.stacks_with or "").split(",") if k}
    return b.kind in allowed_a and a.kind in allowed_b


def discounts_for(items: Sequence, lines: Sequence[Line], now: datetime, *, store_id: int | None = None,
                  delivery_minor: int = 0, category_slugs: dict[int, str] | None = None) -> list[Discount]:
    """Several wallet items presented together: each one's Discount, in the order given.
    Refuses the later item of a pair that does not stack (or a duplicate); goods discounts
    together never exceed the lines' total."""
    results: list[Discount] = []
    taken = 0
    total = sum(line.amount_minor for line in lines)
    for n, item in enumerate(items):
        if any(other.id == item.id for other in items[:n]):
            results.append(Discount(refusal="duplicate"))
            continue
        if any(not _stacks(other, item) for other in items[:n]):
            results.append(Discount(refusal="not_stackable"))
            continue
        one = discount_for(item, lines, now, store_id=store_id, delivery_minor=delivery_minor,
                           category_slugs=category_slugs)
        if one.ok and not one.free_delivery:
            cut = min(one.discount_minor, total - taken)
            one = Discount(discount_minor=cut, eligible_minor=one.eligible_minor)
            taken += cut
        results.append(one)
    return results
