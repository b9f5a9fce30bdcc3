"""Risk records: where members and orders were seen from, and orders held for review.

One review per order: UNIQUE.
"""
from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..types import UTCDateTime


class MemberSighting(db.Model):
    """A device or network address a member was seen on (login, order): what clusters use."""

    __tablename__ = "member_sightings"
    __table_args__ = (
        UniqueConstraint("member_id", "kind", "value", name="one_sighting_per_value"),
        CheckConstraint("kind IN ('device', 'ip')", name="known_kind"),
        Index("ix_sightings_kind_value", "kind", "value"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))
    value: Mapped[str] = mapped_column(String(64))
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime())


class OrderOrigin(db.Model):
    """Where an order was placed from. The mall has no delivery addresses (pickup in store),
    so "many orders to one address" counts orders from one network address."""

    __tablename__ = "order_origins"
    __table_args__ = (Index("ix_order_origins_ip_created", "ip", "created_at"),)

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    ip: Mapped[str | None] = mapped_column(String(64))
    device: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ReviewStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class RiskReview(db.Model):
    """A risky redemption held for HQ: the order waits in status in_review until decided."""

    __tablename__ = "risk_reviews"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'approved', 'rejected')", name="known_status"),
        Index("ix_risk_reviews_status_created", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), unique=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reasons: Mapped[list] = mapped_column(JSON, default=list)  # rule codes, e.g. ["new_account_high_value"]
    status: Mapped[str] = mapped_column(String(10), default=ReviewStatus.PENDING.value)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decision_reason: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    order = relationship("Order")
    member = relationship("User", foreign_keys=[member_id])
