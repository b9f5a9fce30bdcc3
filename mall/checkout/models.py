"""Orders, their lines, their timeline, payments and processed webhooks."""
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..catalog.models import ITEM_KINDS
from ..extensions import db
from ..types import UTCDateTime


class OrderStatus(StrEnum):
    AWAITING_PAYMENT = "awaiting_payment"  # stock held and points taken; cash not yet paid
    PREORDERED = "preordered"              # presale: points taken, waiting for stock
    OFFERED = "offered"                    # presale shortfall: a substitute or a refund on offer
    READY = "ready"                        # paid (or cash due at the counter): ready for pickup
    PICKED_UP = "picked_up"
    CANCELLED = "cancelled"                # by the member, while unpaid
    EXPIRED = "expired"                    # the hold ran out before payment
    PAYMENT_FAILED = "payment_failed"
    REFUNDED = "refunded"
    IN_REVIEW = "in_review"                # a risky redemption held for HQ (mall/hq/risk.py)
    FULFILLED = "fulfilled"                # a coupon, red packet or right: delivered to the account, nothing to pick up


STATUS_VALUES = tuple(s.value for s in OrderStatus)
LIVE_STATUSES = (OrderStatus.AWAITING_PAYMENT.value, OrderStatus.READY.value, OrderStatus.PICKED_UP.value,
                 OrderStatus.PREORDERED.value, OrderStatus.OFFERED.value, OrderStatus.IN_REVIEW.value,
                 OrderStatus.FULFILLED.value)


class Order(db.Model):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("member_id", "idempotency_key", name="one_order_per_submit"),
        CheckConstraint(f"status IN {STATUS_VALUES!r}", name="known_status"),
        CheckConstraint("points_total >= 0 AND cash_total_minor >= 0", name="totals_not_negative"),
        CheckConstraint("payment_mode IN ('none', 'stripe', 'counter')", name="known_payment_mode"),
        CheckConstraint("coupon_discount_minor >= 0", name="coupon_discount_not_negative"),
        Index("ix_orders_status_reserved_until", "status", "reserved_until"),
        Index("ix_orders_member_created", "member_id", "created_at"),
        UniqueConstraint("presale_id", "queue_position", name="one_place_in_the_queue"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(20))
    points_total: Mapped[int]
    cash_total_minor: Mapped[int]
    payment_mode: Mapped[str] = mapped_column(String(10))
    idempotency_key: Mapped[str] = mapped_column(String(64))
    reserved_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cash_collected_minor: Mapped[int] = mapped_column(default=0)
    # What a coupon took off the cash when the order was placed (0: none); it stays when the
    # coupon is given back (checkout/coupons.py coupon_given_back).
    coupon_discount_minor: Mapped[int] = mapped_column(default=0, server_default="0")
    # Presale orders: their presale, their place in its first-come-first-served queue, and
    # the deadline of a shortfall offer.
    presale_id: Mapped[int | None] = mapped_column(ForeignKey("presales.id"), index=True)
    queue_position: Mapped[int | None]
    offer_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    lines: Mapped[list["OrderLine"]] = relationship(back_populates="order", order_by="OrderLine.id",
                                                    cascade="all, delete-orphan")
    events: Mapped[list["OrderEvent"]] = relationship(order_by="OrderEvent.id", cascade="all, delete-orphan")
    payment: Mapped["Payment | None"] = relationship(uselist=False, cascade="all, delete-orphan")

    @property
    def kind(self) -> str:
        """The order's reward kind: one kind per order (a cart holds goods only)."""
        return self.lines[0].item_kind if self.lines else "goods"

    @property
    def cash_due_at_counter(self) -> int:
        if self.payment_mode != "counter":
            return 0
        return max(self.cash_total_minor - self.cash_collected_minor, 0)


class OrderLine(db.Model):
    __tablename__ = "order_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("points >= 0 AND cash_minor >= 0 AND offset_points >= 0", name="amounts_not_negative"),
        CheckConstraint(f"item_kind IN {ITEM_KINDS!r}", name="known_item_kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("price_plans.id", ondelete="SET NULL"))
    plan_kind: Mapped[str] = mapped_column(String(12))
    item_name: Mapped[str] = mapped_column(String(120))  # as it was when ordered
    # The item's kind when ordered (catalog.models.ITEM_KINDS): receivers of order_changed
    # (the wallet, rights) rely on it without loading the item (docs/checkout.md).
    item_kind: Mapped[str] = mapped_column(String(12), default="goods", server_default="goods")
    quantity: Mapped[int]
    offset_points: Mapped[int] = mapped_column(default=0)
    points: Mapped[int]       # line total charged
    cash_minor: Mapped[int]   # line total due

    order: Mapped[Order] = relationship(back_populates="lines")


class OrderEvent(db.Model):
    """The order's timeline: who did what, when (DESIGN.md #6)."""

    __tablename__ = "order_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor: Mapped[str] = mapped_column(String(20))  # member, system, stripe, staff
    note: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Payment(db.Model):
    """The cash part of an order at Stripe (a PaymentIntent)."""

    __tablename__ = "payments"
    __table_args__ = (CheckConstraint("amount_minor > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), unique=True)
    intent_id: Mapped[str | None] = mapped_column(String(80), unique=True)
    client_secret: Mapped[str | None] = mapped_column(String(200))
    amount_minor: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(30), default="new")
    refunded_minor: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class WebhookEvent(db.Model):
    """Each Stripe event id once: a replayed webhook finds its row and does nothing."""

    __tablename__ = "webhook_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(80), unique=True)
    type: Mapped[str] = mapped_column(String(60))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CartLine(db.Model):
    __tablename__ = "cart_lines"
    __table_args__ = (
        UniqueConstraint("member_id", "item_id", "plan_id", name="one_line_per_item_plan"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("offset_points >= 0", name="offset_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    plan_id: Mapped[int] = mapped_column(ForeignKey("price_plans.id", ondelete="CASCADE"))
    quantity: Mapped[int]
    offset_points: Mapped[int] = mapped_column(default=0)
    # The key of the last "Add to cart" submit that changed this line: the same submit again
    # (a double tap, a resent form) finds it here and adds nothing.
    last_key: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
