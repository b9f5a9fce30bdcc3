"""Spending a wallet item on a store purchase or a mall order, and giving it back.

Spent once, even at two tills at the same moment: the item's row is locked (SELECT ... FOR
UPDATE) while the discount is computed, and the spend is ONE conditional UPDATE
(`SET state = 'used' ... WHERE id = :id AND state = 'available'`); the second till waits for
the row, then finds the coupon used. Idempotent per redemption: the same purchase (receipt)
or order presenting the same code again gets the first answer back.

A refund or cancel gives the item back (available again, its redemption cleared,
times_returned + 1) while it is still valid; past its expiry it becomes expired.
"""
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select, update

from ..accounts.auditlog import audit
from ..catalog.models import Category
from ..extensions import db
from .issue import normalise_short_code
from .models import ItemKind, ItemState, WalletItem
from .pricing import Discount, Line, discount_for, discounts_for


@dataclass(frozen=True)
class Redemption:
    """What a till or checkout is told: the item (None if not found), its discount or refusal,
    and whether this call spent it (False for a replay of the same redemption)."""
    item: WalletItem | None
    discount: Discount
    spent: bool = False

    @property
    def ok(self) -> bool:
        return self.discount.ok


def find(code: str, *, lock: bool = False) -> WalletItem | None:
    """A wallet item by its QR code or its short code (case and spaces ignored)."""
    text = (code or "").strip()
    if not text or len(text) > 64:
        return None
    query = select(WalletItem).where(or_(WalletItem.code == text, WalletItem.short_code == normalise_short_code(text)))
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return db.session.scalar(query)


def category_slugs(items) -> dict[int, str]:
    """{category id: slug} for the eligible categories of `items` (to match till lines)."""
    ids = {i for item in items for i in (item.category_ids or ())}
    if not ids:
        return {}
    return dict(db.session.execute(select(Category.id, Category.slug).where(Category.id.in_(ids))).all())


def _used_on(*, purchase_id: int | None = None, order_id: int | None = None) -> list[WalletItem]:
    column = WalletItem.purchase_id if purchase_id is not None else WalletItem.order_id
    return list(db.session.scalars(select(WalletItem).where(column == (purchase_id or order_id))
                                   .order_by(WalletItem.used_at, WalletItem.id)))


def check(item: WalletItem, lines: list[Line], now: datetime, *, store_id: int | None = None,
          delivery_minor: int = 0, purchase_id: int | None = None, order_id: int | None = None) -> Discount:
    """The discount `item` would give, beside what is already used on the same purchase or
    order (stacking rules). Writes nothing."""
    if (purchase_id is not None and item.purchase_id == purchase_id) or (order_id is not None and
                                                                        item.order_id == order_id):
        return Discount(discount_minor=item.discount_minor)  # already spent here: the same answer
    others = _used_on(purchase_id=purchase_id, order_id=order_id) if (purchase_id or order_id) else []
    slugs = category_slugs([item, *others])
    alone = discount_for(item, lines, now, store_id=store_id, delivery_minor=delivery_minor, category_slugs=slugs)
    if not others:
        return alone
    # Already-spent items count first: the new one must stack with each of them, and takes off
    # at most what they left. They count by what they took when spent, not priced again: the
    # lines they were priced on may have been partly refunded since.
    present = [_as_available(o) for o in others] + [item]
    stacking = discounts_for(present, lines, now, store_id=store_id, delivery_minor=delivery_minor,
                             category_slugs=slugs)[-1]
    if not stacking.ok or stacking.free_delivery:
        return stacking
    spent = sum(o.discount_minor or 0 for o in others if o.kind != ItemKind.FREE_DELIVERY.value)
    left = sum(line.amount_minor for line in lines) - spent
    return Discount(discount_minor=max(0, min(alone.discount_minor, left)), eligible_minor=alone.eligible_minor)


def _as_available(item: WalletItem):
    """A used item seen as it was before it was spent (to replay stacking rules)."""
    class Spent:
        pass
    view = Spent()
    for field in ("id", "kind", "threshold_minor", "value_minor", "percent", "cap_minor", "category_ids",
                  "stacks_with", "store_id", "valid_from", "expires_at"):
        setattr(view, field, getattr(item, field))
    view.state = ItemState.AVAILABLE.value
    view.expires_at = max(item.expires_at, item.used_at) if item.used_at else item.expires_at
    return view


def spend(code: str, lines: list[Line], now: datetime, *, store_id: int | None = None,
          purchase_id: int | None = None, order_id: int | None = None, account_id: int | None = None,
          delivery_minor: int = 0, actor_id: int | None = None) -> Redemption:
    """Spend the item with `code` on a purchase (store_id, purchase_id) or an order
    (order_id; account_id: only the member's own items). Returns a Redemption: refused
    (nothing written), spent now, or a replay of the same spend."""
    assert (purchase_id is None) != (order_id is None), "one redemption: a purchase or an order"
    item = find(code, lock=True)
    if item is None:
        return Redemption(None, Discount(refusal="not_found"))
    if account_id is not None and item.account_id != account_id:
        return Redemption(None, Discount(refusal="not_found"))  # never confirm another member's code
    discount = check(item, lines, now, store_id=store_id, delivery_minor=delivery_minor, purchase_id=purchase_id,
                     order_id=order_id)
    if (purchase_id is not None and item.purchase_id == purchase_id) or (order_id is not None and
                                                                        item.order_id == order_id):
        return Redemption(item, discount, spent=False)
    if not discount.ok:
        return Redemption(item, discount)
    took = db.session.execute(
        update(WalletItem).where(WalletItem.id == item.id, WalletItem.state == ItemState.AVAILABLE.value)
        .values(state=ItemState.USED.value, used_at=now, purchase_id=purchase_id, order_id=order_id,
                redeemed_store_id=store_id, discount_minor=discount.discount_minor)
        .execution_options(synchronize_session=False)).rowcount
    db.session.refresh(item)
    if not took:  # another till spent it first (a database without row locks: SQLite)
        same = (purchase_id is not None and item.purchase_id == purchase_id) or (
            order_id is not None and item.order_id == order_id)
        return Redemption(item, Discount(discount_minor=item.discount_minor) if same else Discount(refusal="used"))
    audit(actor_id, "wallet_item_used", "wallet_item", item.id, "", now, discount_minor=discount.discount_minor,
          purchase_id=purchase_id, order_id=order_id, store_id=store_id)
    return Redemption(item, discount, spent=True)


def give_back(*, purchase_id: int | None = None, order_id: int | None = None, now: datetime,
              actor_id: int | None = None) -> list[WalletItem]:
    """A refunded purchase or a cancelled/refunded order gives back what was spent on it:
    available again while still valid, else expired. Idempotent (nothing left to give back)."""
    column = WalletItem.purchase_id if purchase_id is not None else WalletItem.order_id
    items = list(db.session.scalars(select(WalletItem).where(column == (purchase_id or order_id),
                                                             WalletItem.state == ItemState.USED.value)
                                    .with_for_update().execution_options(populate_existing=True)))
    for item in items:
        valid = item.expires_at > now
        item.state = ItemState.AVAILABLE.value if valid else ItemState.EXPIRED.value
        item.used_at = item.purchase_id = item.order_id = item.discount_minor = item.redeemed_store_id = None
        item.times_returned += 1
        audit(actor_id, "wallet_item_returned", "wallet_item", item.id, "", now, purchase_id=purchase_id,
              order_id=order_id, state=item.state)
    db.session.flush()
    return items


def cancel_issued(*, source: str, source_ref: str, now: datetime, actor_id: int | None = None,
                  reason: str = "") -> list[WalletItem]:
    """Cancel the still-available items issued for (source, source_ref), e.g. the coupons an
    order bought when the order is refunded. Used or expired ones stay as they are."""
    items = list(db.session.scalars(select(WalletItem).where(
        WalletItem.source == source, WalletItem.source_ref == source_ref,
        WalletItem.state == ItemState.AVAILABLE.value).with_for_update().execution_options(populate_existing=True)))
    for item in items:
        item.state, item.cancelled_at = ItemState.CANCELLED.value, now
        audit(actor_id, "wallet_item_cancelled", "wallet_item", item.id, reason, now)
    db.session.flush()
    return items
