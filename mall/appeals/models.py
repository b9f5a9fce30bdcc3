from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..types import UTCDateTime


class AppealStatus(StrEnum):
    OPEN = "open"
    ADJUSTED = "adjusted"    # resolved with points credited (a ledger entry naming the appeal)
    ANSWERED = "answered"    # resolved with a reply only


STATUS_VALUES = tuple(s.value for s in AppealStatus)
REASON_MAX = 500


class Appeal(db.Model):
    """One member's question about one statement line or one order."""

    __tablename__ = "appeals"
    __table_args__ = (
        CheckConstraint(f"status IN {STATUS_VALUES!r}", name="known_status"),
        # about exactly one thing: a ledger entry or an order
        CheckConstraint("(CASE WHEN entry_id IS NULL THEN 0 ELSE 1 END) + "
                        "(CASE WHEN order_id IS NULL THEN 0 ELSE 1 END) = 1", name="one_subject"),
        CheckConstraint("status = 'open' OR (resolved_at IS NOT NULL AND resolver_id IS NOT NULL)",
                        name="resolved_has_who_and_when"),
        CheckConstraint("(status = 'adjusted') = (adjustment_points IS NOT NULL)", name="adjusted_has_points"),
        CheckConstraint("adjustment_points IS NULL OR adjustment_points > 0", name="adjustment_positive"),
        UniqueConstraint("member_id", "idempotency_key", name="one_appeal_per_submit"),
        Index("ix_appeals_status_due", "status", "due_at"),
        Index("ix_appeals_member_created", "member_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    reason: Mapped[str] = mapped_column(String(REASON_MAX))
    photo: Mapped[str | None] = mapped_column(String(120))   # under MALL_UPLOAD_DIR, served to the member and HQ only
    status: Mapped[str] = mapped_column(String(10), default=AppealStatus.OPEN.value)
    idempotency_key: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())  # one working day after it was raised
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolver_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reply: Mapped[str | None] = mapped_column(String(REASON_MAX))
    adjustment_points: Mapped[int | None]
    adjustment_entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"))

    entry = relationship("LedgerEntry", foreign_keys=[entry_id], lazy="joined")
    order = relationship("Order", foreign_keys=[order_id], lazy="joined")

    @property
    def is_open(self) -> bool:
        return self.status == AppealStatus.OPEN.value
