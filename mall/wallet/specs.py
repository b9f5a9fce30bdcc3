"""Defining a coupon: the CouponSpec a catalogue item of kind "coupon" sells (one per item).

The console's item form calls `save_coupon_spec` beside the item (as rights.save_spec for a
right). Editing is safe for coupons already issued: `issue` copies every term onto the
WalletItem (mall/wallet/models.py), so a change applies to coupons issued from then on.
The change is logged in the item's history (catalog ItemChange, action "coupon").
Free delivery is not offered here: no delivery fee exists yet (docs/wallet.md), so a member
would pay points for a coupon every order refuses.
"""
from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..catalog.management import record_change
from ..catalog.models import Category, Item
from ..errors import DomainError
from ..extensions import db
from .models import ITEM_KINDS, CouponSpec

SELLABLE_KINDS = ("threshold", "percent", "amount")


@dataclass(frozen=True)
class CouponDraft:
    kind: str
    value_minor: int | None = None      # threshold / amount
    percent: int | None = None          # percent
    cap_minor: int | None = None        # percent, optional
    threshold_minor: int = 0            # threshold
    valid_from: datetime | None = None  # a fixed window (UTC) ...
    valid_until: datetime | None = None
    valid_days: int | None = None       # ... or N days from issue
    category_ids: tuple[int, ...] = ()  # () = every line
    stacks_with: tuple[str, ...] = ()   # wallet item kinds it may be combined with
    per_member_limit: int | None = None
    active: bool = True


def spec_for_item(item_id: int) -> CouponSpec | None:
    return db.session.scalar(select(CouponSpec).where(CouponSpec.item_id == item_id))


def check(d: CouponDraft) -> None:
    """The model's CHECKs as messages, beside their fields (the form's own checks say the same)."""
    if d.kind not in SELLABLE_KINDS:
        raise DomainError(_l("Choose the kind of coupon."), field="coupon_kind")
    if d.kind in ("threshold", "amount") and not (d.value_minor or 0) > 0:
        raise DomainError(_l("The value off must be above zero."), field="coupon_value")
    if d.kind == "threshold" and d.threshold_minor < (d.value_minor or 0):
        raise DomainError(_l("The threshold must be at least the value off."), field="coupon_threshold")
    if d.kind == "percent" and not 1 <= (d.percent or 0) <= 99:
        raise DomainError(_l("The percent off must be between 1 and 99."), field="coupon_percent")
    if d.cap_minor is not None and d.cap_minor <= 0:
        raise DomainError(_l("The cap must be above zero, or empty for none."), field="coupon_cap")
    if (d.valid_days is None) == (d.valid_until is None):
        raise DomainError(_l("Give either a number of days from issue or an end date, not both."),
                          field="coupon_valid_days")
    if d.valid_days is not None and not 1 <= d.valid_days <= 3650:
        raise DomainError(_l("Between 1 and 3650 days."), field="coupon_valid_days")
    if d.valid_from and d.valid_until and d.valid_until <= d.valid_from:
        raise DomainError(_l("The validity must end after it starts."), field="coupon_valid_until")
    if d.per_member_limit is not None and d.per_member_limit < 1:
        raise DomainError(_l("The limit per member must be 1 or more, or empty for no limit."),
                          field="coupon_limit")
    if any(k not in ITEM_KINDS for k in d.stacks_with):
        raise DomainError(_l("Choose kinds of coupon it may be combined with."), field="coupon_stacks_with")


def _snapshot(spec: CouponSpec | None) -> dict:
    if spec is None:
        return {}
    def when(v):
        return v.isoformat() if v else None
    return {"coupon_kind": spec.kind, "coupon_value_minor": spec.value_minor, "coupon_percent": spec.percent,
            "coupon_cap_minor": spec.cap_minor, "coupon_threshold_minor": spec.threshold_minor,
            "coupon_valid_from": when(spec.valid_from), "coupon_valid_until": when(spec.valid_until),
            "coupon_valid_days": spec.valid_days, "coupon_categories": sorted(c.id for c in spec.categories),
            "coupon_stacks_with": spec.stacks_with, "coupon_limit": spec.per_member_limit,
            "coupon_active": spec.active}


def save_coupon_spec(item_id: int, draft: CouponDraft, *, name: str, name_zh: str | None, actor_id: int | None,
                     now: datetime) -> CouponSpec:
    """Create or update the item's coupon (its name follows the item's), logged in the item's
    history. DomainError (nothing written) when the terms are inconsistent. Flushes only."""
    check(draft)
    categories = list(db.session.scalars(select(Category).where(Category.id.in_(draft.category_ids))
                                         .order_by(Category.id))) if draft.category_ids else []
    if len(categories) != len(set(draft.category_ids)):
        raise DomainError(_l("Choose an eligible catalogue category."), field="coupon_categories")
    spec = spec_for_item(item_id)
    before = _snapshot(spec)
    if spec is None:
        spec = CouponSpec(item_id=item_id, created_at=now)
        db.session.add(spec)
    percent = draft.kind == "percent"
    spec.name, spec.name_zh, spec.kind = name[:120], (name_zh or None) and name_zh[:120], draft.kind
    spec.value_minor = None if percent else draft.value_minor
    spec.percent = draft.percent if percent else None
    spec.cap_minor = draft.cap_minor if percent else None
    spec.threshold_minor = draft.threshold_minor if draft.kind == "threshold" else 0
    spec.valid_days = draft.valid_days
    spec.valid_from = draft.valid_from if draft.valid_days is None else None
    spec.valid_until = draft.valid_until if draft.valid_days is None else None
    spec.stacks_with = ",".join(sorted(set(draft.stacks_with)))
    spec.per_member_limit, spec.active = draft.per_member_limit, draft.active
    spec.categories = categories
    db.session.flush()
    record_change(item_id, "coupon", before, _snapshot(spec), actor_id=actor_id, now=now)
    db.session.flush()
    return spec


class CouponWithoutSpec(DomainError):
    message = _l("Define the coupon (its kind, value and validity) before publishing this item.")


def require_spec(item_id: int, publishing: bool) -> None:
    """A coupon item is published only with its coupon: without one, an order of it would
    take the member's points and put nothing in their wallet (wallet/receivers.py)."""
    if not publishing:
        return
    item = db.session.get(Item, item_id)
    if item is not None and item.kind == "coupon" and spec_for_item(item_id) is None:
        raise CouponWithoutSpec()
