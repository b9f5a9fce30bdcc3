"""Services booked in slots (issue 13): a service item has slots with a capacity, and each
paid order for it holds one place in one slot.

Invariants backed by the schema:
- a slot is never overbooked: CHECK (0 <= booked <= capacity), and places are taken by one
  conditional UPDATE (`booked = booked + 1 WHERE booked < capacity`), so it holds under any
  concurrency;
- an order books once: UNIQUE (bookings.order_id);
- a booking is rescheduled at most once: CHECK (reschedule_count <= 1).
"""
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..checkout.models import Order
from ..extensions import db
from ..instore.models import Store
from ..types import UTCDateTime

BOOKING_STATUSES = ("booked", "rescheduled", "done", "cancelled")
# Statuses that hold a place in their slot.
HOLDING = ("booked", "rescheduled")


class ServiceSlot(db.Model):
    """A time a service is given by a store's staff: at the store, or at the member's home
    (at_home; the address is asked at booking). The store's staff mark its bookings done."""

    __tablename__ = "service_slots"
    __table_args__ = (
        CheckConstraint("capacity > 0", name="capacity_positive"),
        CheckConstraint("booked >= 0 AND booked <= capacity", name="never_overbooked"),
        CheckConstraint("ends_at > starts_at", name="ends_after_it_starts"),
        Index("ix_service_slots_item_starts", "item_id", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    at_home: Mapped[bool] = mapped_column(default=False)
    capacity: Mapped[int]
    booked: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    store: Mapped[Store] = relationship()

    @property
    def left(self) -> int:
        return self.capacity - self.booked


class Booking(db.Model):
    __tablename__ = "bookings"
    __table_args__ = (
        CheckConstraint(f"status IN {BOOKING_STATUSES!r}", name="known_status"),
        CheckConstraint("reschedule_count >= 0 AND reschedule_count <= 1", name="rescheduled_at_most_once"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), unique=True)
    slot_id: Mapped[int] = mapped_column(ForeignKey("service_slots.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[str] = mapped_column(String(12), default="booked")
    address: Mapped[str] = mapped_column(String(200), default="")  # for a slot at home
    reschedule_count: Mapped[int] = mapped_column(default=0)
    done_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    slot: Mapped[ServiceSlot] = relationship()
    order: Mapped[Order] = relationship()
