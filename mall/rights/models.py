"""Rights (issue 13): what a right item grants and the grants members hold.

- RightSpec: a right item's kind and how long a purchase grants it (one per item);
- RightGrant: a member holds a right from valid_from until valid_until; one grant per
  source (UNIQUE source), so a replayed order event grants once.
"""
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..types import UTCDateTime

RIGHT_KINDS = ("priority_purchase", "free_delivery", "exclusive_service")


class RightSpec(db.Model):
    __tablename__ = "right_specs"
    __table_args__ = (
        CheckConstraint(f"right_kind IN {RIGHT_KINDS!r}", name="known_right_kind"),
        CheckConstraint("valid_days BETWEEN 1 AND 3660", name="valid_days_in_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), unique=True)
    right_kind: Mapped[str] = mapped_column(String(24))
    valid_days: Mapped[int]


class RightGrant(db.Model):
    __tablename__ = "right_grants"
    __table_args__ = (
        CheckConstraint(f"right_kind IN {RIGHT_KINDS!r}", name="known_right_kind"),
        CheckConstraint("valid_until > valid_from", name="ends_after_it_starts"),
        Index("ix_right_grants_account_kind", "account_id", "right_kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    right_kind: Mapped[str] = mapped_column(String(24))
    # "order:<order id>:<line id>" for a purchase, "demo:..." or "hq:..." otherwise.
    source: Mapped[str] = mapped_column(String(60), unique=True)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("items.id", ondelete="SET NULL"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime())
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
