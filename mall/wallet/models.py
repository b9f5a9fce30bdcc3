"""Coupons and red packets: what HQ defines (CouponSpec) and what a member holds (WalletItem).

A CouponSpec is a coupon definition; issuing it copies its value fields onto a WalletItem,
so editing a spec later never changes coupons already in wallets. A red packet is a
WalletItem without a spec (kind `red_packet`, a no-threshold amount; the red-packet domain
owns the campaigns that issue them).

Invariants backed by the schema (CHECK / UNIQUE / FK):
- each kind carries exactly the value fields it needs (threshold: save value_minor when the
  eligible subtotal reaches threshold_minor >= value_minor; percent: 1..99 % off, optional cap;
  amount / red_packet: a fixed value; free_delivery: no value);
- a wallet item's state is one of available / used / expired / cancelled, and a used item
  has used_at, a discount and one redemption (a store purchase or a mall order);
- one item per (source, source_ref, seq): issuing twice for the same order line, claim or
  HQ request returns the first item (mall/idempotency.insert_once);
- code (QR, unguessable) and short_code (typed at a till) are each UNIQUE.
"""
from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, CheckConstraint, Column, ForeignKey, Index, String, Table, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..catalog.models import Category, Item
from ..extensions import db
from ..types import UTCDateTime


class CouponKind(StrEnum):
    THRESHOLD = "threshold"          # 满减: spend threshold_minor, save value_minor
    PERCENT = "percent"              # 折扣: percent off, at most cap_minor
    AMOUNT = "amount"                # 无门槛: value_minor off, no threshold
    FREE_DELIVERY = "free_delivery"  # the delivery fee is waived


class ItemKind(StrEnum):
    THRESHOLD = "threshold"
    PERCENT = "percent"
    AMOUNT = "amount"
    FREE_DELIVERY = "free_delivery"
    RED_PACKET = "red_packet"        # used like a no-threshold amount


class ItemState(StrEnum):
    AVAILABLE = "available"
    USED = "used"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class ItemSource(StrEnum):
    POINTS = "points"      # bought with points (source_ref: the order id)
    CAMPAIGN = "campaign"  # a red-packet campaign claim (source_ref: the claim id)
    HQ = "hq"              # issued by HQ (source_ref: the request's idempotency token)
    GAME = "game"          # a game prize (source_ref: the play id)


COUPON_KINDS = tuple(k.value for k in CouponKind)
ITEM_KINDS = tuple(k.value for k in ItemKind)
ITEM_STATES = tuple(s.value for s in ItemState)
ITEM_SOURCES = tuple(s.value for s in ItemSource)

# The value fields per kind, one CHECK each (shared by specs and wallet items).
_KIND_FIELDS = (
    "(kind = 'threshold' AND value_minor > 0 AND threshold_minor >= value_minor AND percent IS NULL)"
    " OR (kind = 'percent' AND percent BETWEEN 1 AND 99 AND value_minor IS NULL"
    " AND (cap_minor IS NULL OR cap_minor > 0))"
    " OR (kind IN ('amount', 'red_packet') AND value_minor > 0 AND percent IS NULL)"
    " OR (kind = 'free_delivery' AND value_minor IS NULL AND percent IS NULL)"
)

coupon_spec_categories = Table(
    "coupon_spec_categories", db.metadata,
    Column("spec_id", ForeignKey("coupon_specs.id", ondelete="CASCADE"), primary_key=True),
    Column("category_id", ForeignKey("categories.id", ondelete="CASCADE"), primary_key=True),
)


class CouponSpec(db.Model):
    """A coupon definition. Eligible categories: none listed means every line counts."""

    __tablename__ = "coupon_specs"
    __table_args__ = (
        CheckConstraint(f"kind IN {COUPON_KINDS!r}", name="known_kind"),
        CheckConstraint(_KIND_FIELDS, name="kind_fields"),
        CheckConstraint("threshold_minor >= 0", name="threshold_not_negative"),
        # Validity: a fixed window, or N days from issue (exactly one).
        CheckConstraint("(valid_days IS NULL) <> (valid_until IS NULL)", name="one_validity"),
        CheckConstraint("valid_days IS NULL OR valid_days > 0", name="valid_days_positive"),
        CheckConstraint("valid_from IS NULL OR valid_until IS NULL OR valid_until > valid_from",
                        name="window_ends_after_it_starts"),
        CheckConstraint("per_member_limit IS NULL OR per_member_limit > 0", name="limit_positive"),
        UniqueConstraint("item_id", name="one_spec_per_item"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    name_zh: Mapped[str | None] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(16))
    threshold_minor: Mapped[int] = mapped_column(default=0)
    value_minor: Mapped[int | None]
    percent: Mapped[int | None]
    cap_minor: Mapped[int | None]
    valid_from: Mapped[datetime | None] = mapped_column(UTCDateTime())
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    valid_days: Mapped[int | None]
    # Other kinds this coupon may be used together with, comma-separated ("" = alone;
    # both coupons must allow each other).
    stacks_with: Mapped[str] = mapped_column(String(80), default="")
    per_member_limit: Mapped[int | None]
    # The catalogue item that sells this coupon for points (an order of it issues coupons).
    item_id: Mapped[int | None] = mapped_column(ForeignKey("items.id", ondelete="SET NULL"))
    # Usable only at this store (NULL: every store and the online mall).
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"))
    # The programme budget HQ-issued coupons are charged to (scope "campaign", this target).
    budget_target: Mapped[str] = mapped_column(String(40), default="coupons")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    categories: Mapped[list[Category]] = relationship(secondary=coupon_spec_categories, order_by=Category.id)


# The coupon a catalogue item sells, if any: checkout loads it with the item in its one
# pricing query (checkout/quotes.item_with_plans), so a paid order finds out whether it
# bought coupons without another statement (wallet/receivers.py). Read-only; the catalogue
# knows nothing of it.
Item.coupon_spec = relationship(CouponSpec, primaryjoin=lambda: CouponSpec.item_id == Item.id,
                                foreign_keys=lambda: [CouponSpec.item_id], uselist=False, viewonly=True)


class WalletItem(db.Model):
    """One coupon or red packet in a member's wallet (account_id: the member's user id, which
    is also their points account). Value fields are copied from the spec at issue."""

    __tablename__ = "wallet_items"
    __table_args__ = (
        CheckConstraint(f"kind IN {ITEM_KINDS!r}", name="known_kind"),
        CheckConstraint(_KIND_FIELDS, name="kind_fields"),
        CheckConstraint("threshold_minor >= 0", name="threshold_not_negative"),
        CheckConstraint("(kind = 'red_packet') = (spec_id IS NULL)", name="coupon_has_spec"),
        CheckConstraint(f"state IN {ITEM_STATES!r}", name="known_state"),
        CheckConstraint(f"source IN {ITEM_SOURCES!r}", name="known_source"),
        CheckConstraint("expires_at > issued_at", name="expires_after_issue"),
        CheckConstraint("seq > 0", name="seq_positive"),
        CheckConstraint("(state = 'used') = (used_at IS NOT NULL)", name="used_has_used_at"),
        CheckConstraint("state <> 'used' OR (discount_minor IS NOT NULL AND discount_minor >= 0 "
                        "AND (purchase_id IS NOT NULL) <> (order_id IS NOT NULL))", name="used_has_one_redemption"),
        CheckConstraint("state = 'used' OR (purchase_id IS NULL AND order_id IS NULL AND discount_minor IS NULL)",
                        name="unused_has_no_redemption"),
        CheckConstraint("(state = 'cancelled') = (cancelled_at IS NOT NULL)", name="cancelled_has_time"),
        UniqueConstraint("code", name="uq_wallet_items_code"),
        UniqueConstraint("short_code", name="uq_wallet_items_short_code"),
        UniqueConstraint("source", "source_ref", "seq", name="one_item_per_intent"),
        Index("ix_wallet_items_account_state", "account_id", "state"),
        Index("ix_wallet_items_state_expires", "state", "expires_at"),
        Index("ix_wallet_items_spec", "spec_id"),
        Index("ix_wallet_items_purchase", "purchase_id"),
        Index("ix_wallet_items_order", "order_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    spec_id: Mapped[int | None] = mapped_column(ForeignKey("coupon_specs.id"))
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(120))
    name_zh: Mapped[str | None] = mapped_column(String(120))
    threshold_minor: Mapped[int] = mapped_column(default=0)
    value_minor: Mapped[int | None]
    percent: Mapped[int | None]
    cap_minor: Mapped[int | None]
    # Eligible catalogue category ids at issue ([] = every line), and what it stacks with.
    category_ids: Mapped[list] = mapped_column(JSON, default=list)
    stacks_with: Mapped[str] = mapped_column(String(80), default="")
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"))  # usable only there
    code: Mapped[str] = mapped_column(String(32))        # in the QR; unguessable
    short_code: Mapped[str] = mapped_column(String(12))  # typed at a till
    state: Mapped[str] = mapped_column(String(10), default=ItemState.AVAILABLE.value)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    valid_from: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # "expiring soon" sent once
    source: Mapped[str] = mapped_column(String(10))
    source_ref: Mapped[str] = mapped_column(String(80))
    seq: Mapped[int] = mapped_column(default=1)
    # Where it was spent: a store purchase (at redeemed_store_id) or a mall order.
    redeemed_store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"))
    purchase_id: Mapped[int | None] = mapped_column(ForeignKey("purchases.id"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    discount_minor: Mapped[int | None]
    # How many times a refund or cancel gave it back (it can be spent again).
    times_returned: Mapped[int] = mapped_column(default=0, server_default="0")

    spec: Mapped[CouponSpec | None] = relationship()

    @property
    def face_value_minor(self) -> int:
        """The value at issue (what the budget and the liability count): the fixed amount;
        a percent coupon's cap; 0 for free delivery or an uncapped percent."""
        if self.value_minor is not None:
            return self.value_minor
        return self.cap_minor or 0
