"""Stores, the staff bound to them, pickups, purchases earned by receipt QR, clawbacks and
the POS API keys.

Invariants backed by the schema:
- an order is handed over once: UNIQUE (pickups.order_id);
- a receipt earns once per store: UNIQUE (purchases.store_id, receipt_no);
- a clawback never settles more than it owes: CHECK (0 <= settled <= points);
- an API key is stored only as a hash: UNIQUE (key_hash), the secret is never kept;
- a purchase line never refunds more than it sold, nor gives back more points than it earned:
  CHECK (0 <= refunded_quantity <= quantity), CHECK (0 <= refunded_points <= points);
- a partial refund happens once: UNIQUE (purchase_refunds.purchase_id, refund_no).
"""
from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, UniqueConstraint, false, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..types import UTCDateTime

CASH_METHODS = ("cash", "card", "wechat", "alipay")


class Store(db.Model):
    __tablename__ = "stores"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    name_zh: Mapped[str | None] = mapped_column(String(120))
    region: Mapped[str] = mapped_column(String(60), default="")
    # A store that hands over redeemed items (a kiosk or an outlet may only earn points).
    pickup_point: Mapped[bool] = mapped_column(default=True, server_default=true())


class StoreStaff(db.Model):
    """Which stores a store_staff account works at: the counter acts only for those."""

    __tablename__ = "store_staff"
    __table_args__ = (UniqueConstraint("user_id", "store_id", name="uq_store_staff_user_store"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))


class ItemPickupStore(db.Model):
    """An item with rows here is handed over only at those stores; without rows, at any
    pickup point (bulky or regional items are stocked in a few stores only)."""

    __tablename__ = "item_pickup_stores"
    __table_args__ = (UniqueConstraint("item_id", "store_id", name="uq_item_pickup_stores_item_store"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))


class Pickup(db.Model):
    """The hand-over of an order at a counter: where, when, by whom, and the cash taken."""

    __tablename__ = "pickups"
    __table_args__ = (
        CheckConstraint("cash_minor >= 0", name="cash_not_negative"),
        CheckConstraint(f"cash_method IS NULL OR cash_method IN {CASH_METHODS!r}", name="known_method"),
        CheckConstraint("(cash_minor = 0) = (cash_method IS NULL)", name="method_iff_cash"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), unique=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    cash_minor: Mapped[int] = mapped_column(default=0)
    cash_method: Mapped[str | None] = mapped_column(String(10))
    picked_up_at: Mapped[datetime] = mapped_column(UTCDateTime())

    store: Mapped[Store] = relationship()


class PurchaseStatus:
    OPEN = "open"          # waiting for a member to scan the receipt QR
    CLAIMED = "claimed"    # credited to one member
    REFUNDED = "refunded"  # the purchase was refunded; its points reversed


PURCHASE_STATUSES = (PurchaseStatus.OPEN, PurchaseStatus.CLAIMED, PurchaseStatus.REFUNDED)


class Purchase(db.Model):
    """A store purchase that earns points once: by receipt QR or directly through the POS API."""

    __tablename__ = "purchases"
    __table_args__ = (
        UniqueConstraint("store_id", "receipt_no", name="uq_purchases_store_receipt"),
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        CheckConstraint(f"status IN {PURCHASE_STATUSES!r}", name="known_status"),
        CheckConstraint("status <> 'claimed' OR member_id IS NOT NULL", name="claimed_has_member"),
        Index("ix_purchases_member", "member_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    receipt_no: Mapped[str] = mapped_column(String(40))
    amount_minor: Mapped[int]
    status: Mapped[str] = mapped_column(String(10), default=PurchaseStatus.OPEN)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    earn_entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"))
    points: Mapped[int] = mapped_column(default=0)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    refunded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    store: Mapped[Store] = relationship()
    lines: Mapped[list["PurchaseLine"]] = relationship(order_by="PurchaseLine.line_no",
                                                       cascade="all, delete-orphan", back_populates="purchase")


class PurchaseCategory(db.Model):
    """A merchant's purchase category for till lines that are not in the catalogue (gift
    cards, tobacco, services, deposits). `excluded`: lines of this category never earn."""

    __tablename__ = "purchase_categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(60))
    name_zh: Mapped[str | None] = mapped_column(String(60))
    excluded: Mapped[bool] = mapped_column(default=False, server_default=false())


class PurchaseLine(db.Model):
    """One line of a receipt: what was sold, in which category, for how much. A purchase sent
    without lines has one line of the default category for its whole amount."""

    __tablename__ = "purchase_lines"
    __table_args__ = (
        UniqueConstraint("purchase_id", "line_no", name="uq_purchase_lines_purchase_line"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("amount_minor >= 0", name="amount_not_negative"),
        CheckConstraint("refunded_quantity >= 0 AND refunded_quantity <= quantity", name="refund_in_range"),
        CheckConstraint("points >= 0 AND refunded_points >= 0 AND refunded_points <= points",
                        name="refunded_points_in_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    purchase_id: Mapped[int] = mapped_column(ForeignKey("purchases.id", ondelete="CASCADE"), index=True)
    line_no: Mapped[int]
    sku: Mapped[str] = mapped_column(String(40), default="")
    name: Mapped[str] = mapped_column(String(120), default="")
    category: Mapped[str] = mapped_column(String(40), default="")
    quantity: Mapped[int] = mapped_column(default=1)
    amount_minor: Mapped[int]
    excluded: Mapped[bool] = mapped_column(default=False, server_default=false())  # never earns
    points: Mapped[int] = mapped_column(default=0)              # earned when the purchase was credited
    refunded_quantity: Mapped[int] = mapped_column(default=0)
    refunded_amount_minor: Mapped[int] = mapped_column(default=0)
    refunded_points: Mapped[int] = mapped_column(default=0)     # taken back (or owed) so far

    purchase: Mapped[Purchase] = relationship(back_populates="lines")

    @property
    def open_quantity(self) -> int:
        return self.quantity - self.refunded_quantity

    @property
    def open_amount_minor(self) -> int:
        return self.amount_minor - self.refunded_amount_minor


class PurchaseRefund(db.Model):
    """One refund of a purchase: all of it (refund_no "") or chosen lines and quantities
    (refund_no from the till, which makes a retry return the first outcome)."""

    __tablename__ = "purchase_refunds"
    __table_args__ = (UniqueConstraint("purchase_id", "refund_no", name="uq_purchase_refunds_purchase_no"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    purchase_id: Mapped[int] = mapped_column(ForeignKey("purchases.id", ondelete="CASCADE"))
    refund_no: Mapped[str] = mapped_column(String(40), default="")
    lines: Mapped[list] = mapped_column(JSON, default=list)   # [{"line_no", "quantity", "amount_minor", "points"}]
    amount_minor: Mapped[int] = mapped_column(default=0)
    reversed_points: Mapped[int] = mapped_column(default=0)
    clawback_points: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Clawback(db.Model):
    """Points a refunded purchase still owes because the member had already spent them.
    Later earnings settle it; the balance itself never goes below zero."""

    __tablename__ = "clawbacks"
    __table_args__ = (
        CheckConstraint("points > 0", name="points_positive"),
        CheckConstraint("settled >= 0 AND settled <= points", name="settled_in_range"),
        Index("ix_clawbacks_member_open", "member_id", "settled"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    purchase_id: Mapped[int] = mapped_column(ForeignKey("purchases.id"), unique=True)
    points: Mapped[int]
    settled: Mapped[int] = mapped_column(default=0)
    # Qualifying spend to take off the tier window with the first settlement, when nothing
    # could be taken at refund time (an entry can't have zero points).
    spend_minor_due: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    purchase: Mapped[Purchase] = relationship()

    @property
    def open_points(self) -> int:
        return self.points - self.settled


class ApiKey(db.Model):
    """A POS key for one store. Only its SHA-256 is kept; the prefix finds it and is shown."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    store: Mapped[Store] = relationship()

    @property
    def active(self) -> bool:
        return self.revoked_at is None
