"""HQ's tables: alerts and the dashboard's rollups and returns on rules. (Members' RFM segments,
which HQ computes, live in mall/engagement/models.py: earning rules read them.)

One alert per kind, budget (a store's or a programme budget) and month: UNIQUE.
"""
from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, CheckConstraint, Date, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..points.models import LedgerEntry
from ..types import UTCDateTime


class HqAlert(db.Model):
    """A warning for HQ (and the store): shown on the dashboard, emailed once after commit.
    It is about a store's budget or a programme budget, never both (CHECK)."""

    __tablename__ = "hq_alerts"
    __table_args__ = (
        UniqueConstraint("kind", "store_id", "month", name="one_alert_per_store_month"),
        UniqueConstraint("kind", "programme_budget_id", "month", name="one_alert_per_programme_month"),
        CheckConstraint("(store_id IS NULL) <> (programme_budget_id IS NULL)", name="one_alert_owner"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # budget_80, budget_100
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    programme_budget_id: Mapped[int | None] = mapped_column(ForeignKey("programme_budgets.id", ondelete="CASCADE"))
    month: Mapped[str] = mapped_column(String(7))
    facts: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    emailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


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
