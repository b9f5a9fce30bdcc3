"""Store budgets for discretionary points, and the grants charged to them.

Invariants backed by the schema:
- a store's month never uses more budget than its limit: CHECK (used_points <= limit_points);
  points HQ approves beyond the limit are counted apart, in over_points;
- one budget month per store and month, one grant per (source, idempotency_key): UNIQUE.
"""
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..types import UTCDateTime


class WhenExhausted(StrEnum):
    HOLD = "hold"      # further discretionary points wait for HQ's approval
    REFUSE = "refuse"  # further discretionary points are refused


class StoreBudget(db.Model):
    """HQ's monthly allowance of discretionary points for one store."""

    __tablename__ = "store_budgets"
    __table_args__ = (
        CheckConstraint("monthly_points > 0", name="monthly_points_positive"),
        CheckConstraint("when_exhausted IN ('hold', 'refuse')", name="known_when_exhausted"),
    )

    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True)
    monthly_points: Mapped[int]
    when_exhausted: Mapped[str] = mapped_column(String(10), default=WhenExhausted.HOLD.value)
    # Where the store is warned at 80% (HQ users are warned at their own addresses).
    alert_email: Mapped[str | None] = mapped_column(String(254))
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class BudgetMonth(db.Model):
    """One store's usage in one calendar month (UTC). Charged with a conditional UPDATE."""

    __tablename__ = "budget_months"
    __table_args__ = (
        UniqueConstraint("store_id", "month", name="one_row_per_store_month"),
        CheckConstraint("used_points >= 0 AND over_points >= 0", name="usage_not_negative"),
        CheckConstraint("used_points <= limit_points", name="never_over_budget"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    month: Mapped[str] = mapped_column(String(7))  # "2026-06"
    limit_points: Mapped[int]
    used_points: Mapped[int] = mapped_column(default=0)
    over_points: Mapped[int] = mapped_column(default=0)  # approved by HQ beyond the limit
    warned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    exhausted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class GrantStatus(StrEnum):
    ISSUED = "issued"      # within budget, credited at once
    HELD = "held"          # over budget, waiting for HQ
    APPROVED = "approved"  # HQ approved a held grant: credited
    REJECTED = "rejected"  # HQ rejected a held grant: nothing credited


class GrantKind(StrEnum):
    TASK = "task"
    CAMPAIGN = "campaign"
    MANUAL = "manual"
    BONUS = "bonus"


class DiscretionaryGrant(db.Model):
    """A discretionary credit charged to a store's budget, or held for HQ's approval."""

    __tablename__ = "discretionary_grants"
    __table_args__ = (
        UniqueConstraint("source", "idempotency_key", name="one_grant_per_intent"),
        CheckConstraint("points > 0", name="points_positive"),
        CheckConstraint("status IN ('issued', 'held', 'approved', 'rejected')", name="known_status"),
        CheckConstraint("kind IN ('task', 'campaign', 'manual', 'bonus')", name="known_kind"),
        Index("ix_grants_status_created", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    points: Mapped[int]
    kind: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(String(40))      # the ledger reason code
    note: Mapped[str] = mapped_column(String(255), default="")
    source: Mapped[str] = mapped_column(String(40))
    idempotency_key: Mapped[str] = mapped_column(String(120))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    month: Mapped[str] = mapped_column(String(7))
    status: Mapped[str] = mapped_column(String(10))
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decision_note: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
