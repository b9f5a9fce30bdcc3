"""The wallet's reactions to other domains' events (mall/events.py), connected by create_app.

Checkout imports the wallet (pricing, spending), so the wallet can't import checkout: it
reads the Order the order_changed event carries.

- fulfilled (a coupon or red_packet order, paid: docs/checkout.md "The contract for the
  wallet"): each line whose `item_kind` is coupon or red_packet and whose item sells a coupon
  (CouponSpec.item_id) issues `quantity` wallet items to the member, source "points",
  source_ref "order:<id>", seq numbered over the order's lines in line order (idempotent: a
  replayed event issues nothing more). A red_packet line issues red packets worth the spec's
  value with its validity; a coupon line issues coupons of the spec. Goods lines issue
  nothing, whatever spec their item has (the console refuses one: catalog's coupon link).
- cancelled, expired, refunded, payment_failed, review_rejected, offer_declined: a coupon spent on the order comes back
  while valid; coupons the order bought and the member has not used are cancelled (refunded).
"""
from datetime import datetime

from sqlalchemy import select

from ..catalog.models import Item
from ..events import order_changed
from ..extensions import db
from .issue import issue, issue_red_packet
from .models import CouponSpec, ItemSource
from .redeem import cancel_issued, give_back

# Every way an order ends unfilled (as mall/bookings/receivers.py lists them).
GIVE_BACK_KINDS = ("cancelled", "expired", "refunded", "payment_failed", "review_rejected", "offer_declined")


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


WALLET_LINE_KINDS = ("coupon", "red_packet")


def _issue_one(order, line, spec: CouponSpec, seq: int, now: datetime) -> None:
    ref = f"order:{order.id}"
    if line.item_kind == "red_packet" and spec.value_minor:
        # A red packet is a no-threshold amount that stacks with nothing (issue_red_packet).
        validity = ({"valid_days": spec.valid_days} if spec.valid_days is not None
                    else {"valid_until": spec.valid_until})
        issue_red_packet(order.member_id, spec.value_minor, source=ItemSource.POINTS.value, source_ref=ref, seq=seq,
                         now=now, name=spec.name, name_zh=spec.name_zh, store_id=spec.store_id, **validity)
    else:
        issue(order.member_id, spec, source=ItemSource.POINTS.value, source_ref=ref, seq=seq, now=now)


def issue_bought_coupons(order, now: datetime) -> None:
    lines = sorted((ln for ln in order.lines if ln.item_kind in WALLET_LINE_KINDS), key=lambda ln: ln.id)
    specs = _specs(sorted({line.item_id for line in lines})) if lines else {}
    if not specs:
        return
    seq = 0
    for line in lines:
        spec = specs.get(line.item_id)
        for _ in range(line.quantity if spec is not None else 0):
            seq += 1
            _issue_one(order, line, spec, seq, now)


def order_changed_wallet(sender, *, order, kind: str, now: datetime) -> None:
    if kind == "fulfilled":
        issue_bought_coupons(order, now)
    elif kind in GIVE_BACK_KINDS:
        give_back(order_id=order.id, now=now)
        if kind == "refunded":
            cancel_issued(source=ItemSource.POINTS.value, source_ref=f"order:{order.id}", now=now,
                          reason="order refunded")


def connect() -> None:
    """Idempotent: blinker connects a receiver once however often create_app runs."""
    order_changed.connect(order_changed_wallet)
