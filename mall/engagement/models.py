"""Engagement: earning rules as versioned data, and the member tasks (check-in, profile,
referral) that earn non-purchase points.

Earning rules are insert-only: an edit writes a new version row and a retirement writes a
version with active=False, so the rule a past earn used is always still there to explain it.
The id of the newest row is the rulebook version stamped on every earn.
"""
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, Index, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..types import UTCDateTime


class RuleKind(StrEnum):
    BASE_RATE = "base_rate"              # value: minor units of spend per point (100 = ¥1)
    TIER_MULTIPLIER = "tier_multiplier"  # value: percent, for tier_code (120 = ×1.2)
    TIME_SLOT = "time_slot"              # value: percent on the listed weekdays (200 = ×2)
    CAMPAIGN = "campaign"                # value: percent inside the rule's window
    CATEGORY_BONUS = "category_bonus"    # value: percent of the base, added (30 = +30%)
    FIRST_PURCHASE = "first_purchase"    # value: points added on a member's first purchase
    CAP = "cap"                          # value: percent of the base the rate part may reach


RULE_KINDS = tuple(k.value for k in RuleKind)
# The largest value each kind takes. Multipliers stack (base × tier × the best promotion), so
# ×10 each keeps the largest receipt's credit (¥1,000,000 at ¥1 a point: 10^6 × 10 × 10, plus
# a +1,000% category bonus) well inside the ledger's INTEGER points; a value of ~2·10^9
# would make every earn overflow.
RULE_VALUE_MAX = {
    RuleKind.BASE_RATE.value: 1_000_000,       # fen of spend per point: ¥10,000 a point
    RuleKind.TIER_MULTIPLIER.value: 1_000,     # percent: ×10
    RuleKind.TIME_SLOT.value: 1_000,
    RuleKind.CAMPAIGN.value: 1_000,
    RuleKind.CATEGORY_BONUS.value: 1_000,      # percent of base: +10 × base
    RuleKind.FIRST_PURCHASE.value: 1_000_000,  # points
    RuleKind.CAP.value: 10_000,                # percent of base: a ceiling, never a cost
}
# RFM segments (computed by HQ, mall/hq/segments.py); an earning rule may target one.
SEGMENTS = ("loyal", "potential", "dormant", "ordinary")


class EarningRule(db.Model):
    __tablename__ = "earning_rules"
    __table_args__ = (
        UniqueConstraint("rule_key", "version", name="one_row_per_version"),
        CheckConstraint(f"kind IN {RULE_KINDS!r}", name="known_kind"),
        CheckConstraint("value > 0", name="value_positive"),
        CheckConstraint("version > 0", name="version_positive"),
        CheckConstraint("ends_at IS NULL OR starts_at IS NULL OR ends_at > starts_at",
                        name="window_ends_after_it_starts"),
        CheckConstraint("(minute_from IS NULL) = (minute_to IS NULL) AND (minute_from IS NULL OR "
                        "(minute_from >= 0 AND minute_to <= 1440 AND minute_to > minute_from))",
                        name="hours_in_a_day"),
        CheckConstraint(f"segment IS NULL OR segment IN {SEGMENTS!r}", name="known_segment"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)  # also the rulebook version
    rule_key: Mapped[str] = mapped_column(String(16))   # stable across versions
    version: Mapped[int]
    active: Mapped[bool] = mapped_column(default=True)  # False: this version retires the rule
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(60))
    name_zh: Mapped[str | None] = mapped_column(String(60))
    value: Mapped[int]
    tier_code: Mapped[str | None] = mapped_column(String(20))
    category_slug: Mapped[str | None] = mapped_column(String(40))
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"))
    # ISO weekdays, comma separated ("3" is Wednesday, "6,7" the weekend), in the shop's timezone.
    weekdays: Mapped[str | None] = mapped_column(String(20))
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Per-line and per-moment scopes (issue 12): SKUs (comma separated), hours of the day in
    # shop time as minutes since midnight [from, to), days of the month ("8,18,28": member
    # days), and the member's birthday month.
    skus: Mapped[str | None] = mapped_column(String(400))
    minute_from: Mapped[int | None]
    minute_to: Mapped[int | None]
    month_days: Mapped[str | None] = mapped_column(String(90))
    birthday_month: Mapped[bool] = mapped_column(default=False, server_default=false())
    segment: Mapped[str | None] = mapped_column(String(10))   # only members in this RFM segment
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    @property
    def weekday_list(self) -> list[int]:
        return [int(d) for d in (self.weekdays or "").split(",") if d.strip()]

    @property
    def sku_list(self) -> list[str]:
        return [s.strip() for s in (self.skus or "").split(",") if s.strip()]

    @property
    def month_day_list(self) -> list[int]:
        return [int(d) for d in (self.month_days or "").split(",") if d.strip()]


class Checkin(db.Model):
    """One row per member per local day: the UNIQUE makes a double tap one check-in."""

    __tablename__ = "checkins"
    __table_args__ = (
        UniqueConstraint("member_id", "day", name="one_checkin_per_day"),
        CheckConstraint("streak > 0", name="streak_positive"),
        CheckConstraint("points >= 0", name="points_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    day: Mapped[date] = mapped_column(Date)
    streak: Mapped[int]
    points: Mapped[int]        # what was credited (after caps)
    wanted: Mapped[int]        # what the rules offered before caps
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class MemberProfile(db.Model):
    """The optional profile fields a member is rewarded for completing, once each."""

    __tablename__ = "member_profiles"

    member_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    birthday: Mapped[date | None] = mapped_column(Date)
    city: Mapped[str | None] = mapped_column(String(60))
    favourite_category: Mapped[str | None] = mapped_column(String(40))


class Referral(db.Model):
    """The referred member is unique: nobody is referred twice. Points wait for their
    first purchase (rewarded_at)."""

    __tablename__ = "referrals"
    __table_args__ = (CheckConstraint("referrer_id <> referred_id", name="not_self"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    referrer_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    referred_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    device_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    rewarded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class MemberDevice(db.Model):
    """Devices (a long-lived browser cookie) a member was seen on: one household's phone
    can't refer itself."""

    __tablename__ = "member_devices"

    member_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    device_id: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime())


class MemberSegment(db.Model):
    """A member's RFM scores and segment as of computed_at. HQ computes them (mall/hq/segments.py,
    refreshed by `mall jobs`); earning rules scoped to a segment read them (segments.segment_of)."""

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
