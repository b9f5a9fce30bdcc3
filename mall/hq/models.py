"""HQ's tables: store budgets for discretionary points, alerts, risk records and the audit log.

Invariants backed by the schema:
- a store's month never uses more budget than its limit: CHECK (used_points <= limit_points);
  points HQ approves beyond the limit are counted apart, in over_points;
- one budget month per store and month, one alert per kind, store and month, one review per
  order, one grant per (source, idempotency_key): UNIQUE.
"""
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, BigInteger, CheckConstraint, Date, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..points.models import LedgerEntry
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


class HqAlert(db.Model):
    """A warning for HQ (and the store): shown on the dashboard, emailed once after commit."""

    __tablename__ = "hq_alerts"
    __table_args__ = (UniqueConstraint("kind", "store_id", "month", name="one_alert_per_store_month"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # budget_80, budget_100
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    month: Mapped[str] = mapped_column(String(7))
    facts: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    emailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


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


class AuditEntry(db.Model):
    """Who did what to whom, when and why: every HQ and risk action writes one."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_subject", "subject_type", "subject_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(40))
    subject_type: Mapped[str] = mapped_column(String(20))
    subject_id: Mapped[int | None]
    reason: Mapped[str] = mapped_column(String(255), default="")
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class LedgerDaily(db.Model):
    """The ledger summed per day, store, kind, rule and category: what the dashboard reads.

    Closed days are rolled up once (`analytics.roll_up`); the open day is read live from
    the ledger, so the dashboard is current without scanning a million rows per request.
    store_id 0 means no store (online); rule is the ledger entry's rule code, or its reason.
    """

    __tablename__ = "ledger_daily"
    __table_args__ = (
        UniqueConstraint("day", "store_id", "kind", "rule", "category", name="one_row_per_bucket"),
        Index("ix_ledger_daily_store_day", "store_id", "day"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    store_id: Mapped[int] = mapped_column(default=0)
    kind: Mapped[str] = mapped_column(String(10))
    rule: Mapped[str] = mapped_column(String(60))
    category: Mapped[str] = mapped_column(String(40), default="")
    points: Mapped[int] = mapped_column(BigInteger)
    spend_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    entries: Mapped[int] = mapped_column(default=0)


class RollupState(db.Model):
    """How far the daily rollup has got: every day up to and including through_day."""

    __tablename__ = "rollup_state"

    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    through_day: Mapped[date | None] = mapped_column(Date)
    refreshed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class MemberSegment(db.Model):
    """A member's RFM scores and segment as of computed_at (refreshed by `mall jobs`)."""

    __tablename__ = "member_segments"
    __table_args__ = (
        CheckConstraint("segment IN ('loyal', 'potential', 'dormant', 'ordinary')", name="known_segment"),
        Index("ix_member_segments_segment", "segment", "spend_minor", "member_id"),  # drill-down order
    )

    member_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    segment: Mapped[str] = mapped_column(String(10))
    last_purchase_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    purchases: Mapped[int] = mapped_column(default=0)
    spend_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RuleRoi(db.Model):
    """Points cost against attributed sales per earning rule or campaign (analytics.roi)."""

    __tablename__ = "rule_roi"

    rule: Mapped[str] = mapped_column(String(60), primary_key=True)
    points: Mapped[int] = mapped_column(BigInteger)
    members: Mapped[int]
    direct_sales_minor: Mapped[int] = mapped_column(BigInteger)
    repeat_sales_minor: Mapped[int] = mapped_column(BigInteger)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime())


# The open day and the live parts of the dashboard read the ledger by time; the ledger's own
# indexes lead with member_id. Declared here (HQ's need) so the ledger module stays untouched.
Index("ix_ledger_entries_created_at", LedgerEntry.created_at)
