"""The wallet's reactions to other domains' events (mall/events.py), connected by create_app.

Checkout imports the wallet (pricing, spending), so the wallet can't import checkout: it
reads the Order the order_changed event carries.

- ready_for_pickup (paid: in points at once, or by card, or cash due at the counter): each
  line whose item sells a coupon (CouponSpec.item_id) issues `quantity` coupons to the
  member, source "points", source_ref "order:<id>", seq 1..quantity (idempotent: a late
  payment's second ready issues nothing more).
- cancelled, expired, refunded, payment_failed: a coupon spent on the order comes back
  while valid; coupons the order bought and the member has not used are cancelled (refunded).
"""
from datetime import datetime

from sqlalchemy import select

from ..catalog.models import Item
from ..events import order_changed
from ..extensions import db
from .issue import issue
from .models import CouponSpec, ItemSource
from .redeem import cancel_issued, give_back

GIVE_BACK_KINDS = ("cancelled", "expired", "refunded", "payment_failed")


def _specs(item_ids: list[int]) -> dict[int, CouponSpec]:
    """The coupon specs the items sell. Checkout priced them moments ago and loaded each
    item's `coupon_spec` with it (wallet/models.py), so usually no statement is needed; an
    item not loaded that way (presale, a late payment in another request) is looked up."""
    found, missing = {}, []
    for item_id in item_ids:
        item = db.session.identity_map.get(db.session.identity_key(Item, item_id))
        if item is not None and "coupon_spec" in item.__dict__:
            if item.coupon_spec is not None:
                found[item_id] = item.coupon_spec
        else:
            missing.append(item_id)
    if missing:
        found.update({s.item_id: s for s in db.session.scalars(
            select(CouponSpec).where(CouponSpec.item_id.in_(missing)))})
    return found


def issue_bought_coupons(order, now: datetime) -> None:
    item_ids = sorted({line.item_id for line in order.lines})
    specs = _specs(item_ids) if item_ids else {}
    if not specs:
        return
    seq = 0
    for line in order.lines:
        spec = specs.get(line.item_id)
        for _ in range(line.quantity if spec is not None else 0):
            seq += 1
            issue(order.member_id, spec, source=ItemSource.POINTS.value, source_ref=f"order:{order.id}", seq=seq,
                  now=now)


def order_changed_wallet(sender, *, order, kind: str, now: datetime) -> None:
    if kind == "ready_for_pickup":
        issue_bought_coupons(order, now)
    elif kind in GIVE_BACK_KINDS:
        give_back(order_id=order.id, now=now)
        if kind == "refunded":
            cancel_issued(source=ItemSource.POINTS.value, source_ref=f"order:{order.id}", now=now,
                          reason="order refunded")


def connect() -> None:
    """Idempotent: blinker connects a receiver once however often create_app runs."""
    order_changed.connect(order_changed_wallet)
