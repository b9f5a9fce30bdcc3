"""Budgets for discretionary points, and the grants charged to them.

One budget model for every discretionary point (DESIGN.md #9): a store's budget when a
store is involved, otherwise a programme budget HQ sets per campaign (an earning rule) or
per task kind (check-in, profile, referral). Both are charged the same way, on a
BudgetMonth row, and every charged issuance is one DiscretionaryGrant row.

Invariants backed by the schema:
- a budget's month never uses more than its limit: CHECK (used_points <= limit_points);
  points HQ approves beyond the limit are counted apart, in over_points;
- a month belongs to exactly one store or one programme budget (CHECK), once per month
  (UNIQUE), and one grant per (source, idempotency_key): UNIQUE.
`mall audit` checks used_points = the month's issued grants (less what refunds gave back) and
over_points = its approved ones.
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


class BudgetScope(StrEnum):
    CAMPAIGN = "campaign"  # target: an earning rule's key (its bonus uplift)
    TASK = "task"          # target: a task kind: checkin, profile, referral
    GAME = "game"          # target: a game's id (mall/games: the cost of its prizes)


class ProgrammeBudget(db.Model):
    """HQ's monthly allowance of discretionary points where no store is involved (online
    check-ins, profile points, a campaign's uplift at a store without its own budget)."""

    __tablename__ = "programme_budgets"
    __table_args__ = (
        UniqueConstraint("scope", "target", name="one_budget_per_target"),
        CheckConstraint("scope IN ('campaign', 'task', 'game')", name="known_scope"),
        CheckConstraint("monthly_points > 0", name="monthly_points_positive"),
        CheckConstraint("when_exhausted IN ('hold', 'refuse')", name="known_when_exhausted"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(10))
    target: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(80))
    monthly_points: Mapped[int]
    when_exhausted: Mapped[str] = mapped_column(String(10), default=WhenExhausted.HOLD.value)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class BudgetMonth(db.Model):
    """One budget's usage (a store's or a programme budget's) in one calendar month (UTC).
    Charged with a conditional UPDATE."""

    __tablename__ = "budget_months"
    __table_args__ = (
        UniqueConstraint("store_id", "month", name="one_row_per_store_month"),
        UniqueConstraint("programme_budget_id", "month", name="one_row_per_programme_month"),
        CheckConstraint("used_points >= 0 AND over_points >= 0", name="usage_not_negative"),
        CheckConstraint("used_points <= limit_points", name="never_over_budget"),
        CheckConstraint("(store_id IS NULL) <> (programme_budget_id IS NULL)", name="one_budget_owner"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    programme_budget_id: Mapped[int | None] = mapped_column(ForeignKey("programme_budgets.id", ondelete="CASCADE"))
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
    REVERSED = "reversed"  # issued, then all of it given back to the budget (a refunded purchase's uplift)


class GrantKind(StrEnum):
    TASK = "task"
    CAMPAIGN = "campaign"
    MANUAL = "manual"
    BONUS = "bonus"
    GAME = "game"  # a game's prize: points, or goods/coupons valued in points (no ledger credit)


class DiscretionaryGrant(db.Model):
    """A discretionary credit charged to a budget (a store's or a programme budget), or held
    for HQ's approval. For a purchase's bonus uplift, `points` is the uplift alone and
    `entry_id` the purchase's ledger line (base and uplift are credited as one line).
    `reversed_points` of an issued grant were given back to its budget month (a purchase
    refunded inside the return window); all of them given back: status `reversed`. The
    month's used_points = its issued and reversed grants' points − reversed_points."""

    __tablename__ = "discretionary_grants"
    __table_args__ = (
        UniqueConstraint("source", "idempotency_key", name="one_grant_per_intent"),
        CheckConstraint("points > 0", name="points_positive"),
        CheckConstraint("status IN ('issued', 'held', 'approved', 'rejected', 'reversed')", name="known_status"),
        CheckConstraint("reversed_points >= 0 AND reversed_points <= points", name="reversed_within_points"),
        CheckConstraint("kind IN ('task', 'campaign', 'manual', 'bonus', 'game')", name="known_kind"),
        CheckConstraint("store_id IS NULL OR programme_budget_id IS NULL", name="one_budget"),
        Index("ix_grants_status_created", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"), index=True)
    programme_budget_id: Mapped[int | None] = mapped_column(ForeignKey("programme_budgets.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    points: Mapped[int]
    reversed_points: Mapped[int] = mapped_column(default=0, server_default="0")
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
