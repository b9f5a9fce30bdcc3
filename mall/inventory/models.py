"""Stock per item, kept as counters guarded by CHECK constraints.

available = received - reserved - sold. Writers change these counters only through
conditional UPDATEs in inventory services, and the CHECKs below are the last guard
against oversell (DESIGN.md #2).
"""
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..types import UTCDateTime


class StockLevel(db.Model):
    __tablename__ = "stock_levels"
    __table_args__ = (
        CheckConstraint("received >= 0 AND reserved >= 0 AND sold >= 0", name="counters_not_negative"),
        CheckConstraint("reserved + sold <= received", name="never_oversold"),
    )

    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), primary_key=True)
    received: Mapped[int] = mapped_column(default=0)
    reserved: Mapped[int] = mapped_column(default=0)
    sold: Mapped[int] = mapped_column(default=0)
    low_stock_threshold: Mapped[int] = mapped_column(default=5)

    @property
    def available(self) -> int:
        return self.received - self.reserved - self.sold


class StockMovement(db.Model):
    """Every change to the counters, with who and why (DESIGN.md #6)."""

    __tablename__ = "stock_movements"
    __table_args__ = (CheckConstraint("quantity <> 0", name="quantity_not_zero"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # receive, adjust, reserve, release, sell
    quantity: Mapped[int]
    reason: Mapped[str] = mapped_column(String(200), default="")
    reference: Mapped[str | None] = mapped_column(String(80))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    actor = relationship("User")


class Reservation(db.Model):
    """Stock held for an order until `reserved_until`, then confirmed (sold) or released.

    Read live holds through `Reservation.held()`; the expiry job releases the rest even when
    nobody visits the site again.
    """

    __tablename__ = "reservations"
    __table_args__ = (
        UniqueConstraint("order_id", "item_id", name="one_reservation_per_item"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("status IN ('held', 'confirmed', 'released')", name="known_status"),
        Index("ix_reservations_status_until", "status", "reserved_until"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    quantity: Mapped[int]
    status: Mapped[str] = mapped_column(String(10), default="held")
    reserved_until: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
