"""Points: tiers, an append-only ledger, and the lots that give every credited point its expiry.

Invariants (DESIGN.md #1), each backed by the schema and checked by `flask mall audit`:
- account.balance == sum(entry.points) == sum(lot.remaining) for each member;
- balances and balance_after are never negative (CHECK);
- lot.remaining == lot.amount + sum(its movements), and 0 <= remaining <= amount (CHECK);
- (source, idempotency_key) is unique, so one intent has one effect (UNIQUE).

Pending points (DESIGN.md #10): a purchase's lot may be *pending* for the return window
(`pending_state` 'pending', `pending_until` set). Its points are in the balance (the ledger
line is written at purchase) and also in `account.pending`, and CHECK (pending <= balance)
means no spend can ever reach them; `mall jobs` releases the lot (state 'released',
account.pending down), and a refund inside the window cancels it (an adjust line takes the
points back out of that lot; state 'cancelled').
"""
from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..types import UTCDateTime


class Tier(db.Model):
    __tablename__ = "tiers"
    __table_args__ = (
        CheckConstraint("threshold_minor >= 0", name="threshold_not_negative"),
        CheckConstraint("multiplier_pct > 0", name="multiplier_positive"),
        CheckConstraint("validity_months > 0", name="validity_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(40))
    name_zh: Mapped[str | None] = mapped_column(String(40))
    rank: Mapped[int] = mapped_column(unique=True)
    # Qualifying spend over the rolling 12 months, in minor units, that reaches this tier.
    threshold_minor: Mapped[int]
    multiplier_pct: Mapped[int] = mapped_column(default=100)  # 120 means x1.2
    validity_months: Mapped[int] = mapped_column(default=12)


class EntryKind(StrEnum):
    EARN = "earn"        # purchases, bonuses, tasks: creates a lot
    SPEND = "spend"      # redemptions: consumes lots, soonest expiry first
    EXPIRE = "expire"    # a lot's remainder reaching its expiry
    REFUND = "refund"    # a spend given back to the lots it came from
    ADJUST = "adjust"    # a manual correction by staff, either sign


CREDIT_KINDS = (EntryKind.EARN.value, EntryKind.REFUND.value)
DEBIT_KINDS = (EntryKind.SPEND.value, EntryKind.EXPIRE.value)
KIND_VALUES = tuple(k.value for k in EntryKind)


class PointsAccount(db.Model):
    """One row per member: the row that concurrent spends lock and the CHECK that holds."""

    __tablename__ = "points_accounts"
    __table_args__ = (CheckConstraint("balance >= 0", name="balance_not_negative"),
                      CheckConstraint("pending >= 0 AND pending <= balance", name="pending_within_balance"))

    member_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                           primary_key=True)
    balance: Mapped[int] = mapped_column(default=0)
    # Of the balance, points still inside a purchase's return window: never spendable.
    pending: Mapped[int] = mapped_column(default=0, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LedgerEntry(db.Model):
    __tablename__ = "ledger_entries"
    __table_args__ = (
        UniqueConstraint("source", "idempotency_key", name="one_effect_per_intent"),
        # A 0-point line only takes spend off the tier window: a refund of lines that earned
        # nothing (a gift card) still takes its spend back (instore.purchases).
        CheckConstraint("points <> 0 OR (kind = 'adjust' AND spend_minor < 0)", name="points_or_spend"),
        CheckConstraint("balance_after >= 0", name="balance_after_not_negative"),
        CheckConstraint(f"kind IN {KIND_VALUES!r}", name="known_kind"),
        CheckConstraint(
            f"(kind NOT IN {CREDIT_KINDS!r} OR points > 0) AND (kind NOT IN {DEBIT_KINDS!r} OR points < 0)",
            name="sign_matches_kind"),
        Index("ix_ledger_member_created", "member_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    kind: Mapped[str] = mapped_column(String(10))
    points: Mapped[int]
    balance_after: Mapped[int]
    # Why it happened: a reason code the statement translates, plus the facts it needs.
    reason: Mapped[str] = mapped_column(String(40))
    reference: Mapped[str | None] = mapped_column(String(80))
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    source: Mapped[str] = mapped_column(String(40))
    idempotency_key: Mapped[str] = mapped_column(String(120))
    # Qualifying spend this entry adds to (or, on a purchase refund, takes from) the tier window.
    spend_minor: Mapped[int] = mapped_column(default=0)
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"), index=True)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    movements: Mapped[list["LotMovement"]] = relationship(back_populates="entry",
                                                          order_by="LotMovement.id")


class PointLot(db.Model):
    """Points credited together, expiring together."""

    __tablename__ = "point_lots"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("remaining >= 0 AND remaining <= amount", name="remaining_in_range"),
        CheckConstraint("pending_state IS NULL OR pending_state IN ('pending', 'released', 'cancelled')",
                        name="known_pending_state"),
        CheckConstraint("(pending_state IS NULL) = (pending_until IS NULL)", name="pending_has_date"),
        Index("ix_lots_member_expiry", "member_id", "expires_at"),
        Index("ix_lots_pending_until", "pending_state", "pending_until"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entries.id"), unique=True)
    amount: Mapped[int]
    remaining: Mapped[int]
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # A purchase's points inside the return window: NULL for points spendable at once;
    # else 'pending' until `pending_until` (released by `mall jobs`), then 'released', or
    # 'cancelled' by a refund inside the window.
    pending_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    pending_state: Mapped[str | None] = mapped_column(String(10))
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class LotMovement(db.Model):
    """How many points a debit took from (negative) or a refund gave back to (positive) a lot."""

    __tablename__ = "lot_movements"
    __table_args__ = (
        UniqueConstraint("entry_id", "lot_id", name="one_movement_per_lot"),
        CheckConstraint("points <> 0", name="points_not_zero"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entries.id"))
    lot_id: Mapped[int] = mapped_column(ForeignKey("point_lots.id"), index=True)
    points: Mapped[int]

    entry: Mapped[LedgerEntry] = relationship(back_populates="movements")
    lot: Mapped[PointLot] = relationship()


class MemberTier(db.Model):
    """The tier a member holds and until when (issue 6, tier lifecycle).

    An upgrade is recorded at once; a downgrade waits for period_ends_at, so a member who
    reached Gold keeps it for the whole period even if their rolling spend dips. NULL
    period_ends_at: the entry tier, which never lapses. No row: the tier follows spend.
    """

    __tablename__ = "member_tiers"

    member_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    tier_id: Mapped[int] = mapped_column(ForeignKey("tiers.id"))
    reached_at: Mapped[datetime] = mapped_column(UTCDateTime())
    period_ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    tier: Mapped[Tier] = relationship()


class TierChange(db.Model):
    """Tier history: every upgrade, renewal and downgrade, with the spend that decided it."""

    __tablename__ = "tier_changes"
    __table_args__ = (
        CheckConstraint("kind IN ('upgrade', 'renewal', 'downgrade')", name="known_kind"),
        Index("ix_tier_changes_member_created", "member_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))
    from_tier_id: Mapped[int | None] = mapped_column(ForeignKey("tiers.id"))
    to_tier_id: Mapped[int] = mapped_column(ForeignKey("tiers.id"))
    qualifying_minor: Mapped[int]
    period_ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # When the member dismissed the celebration banner (upgrades only).
    seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    from_tier: Mapped[Tier | None] = relationship(foreign_keys=[from_tier_id])
    to_tier: Mapped[Tier] = relationship(foreign_keys=[to_tier_id])


class EntryCategoryShare(db.Model):
    """How one ledger entry splits across categories, when it spans several: a purchase
    with fresh-food and kitchen lines, an order of items from two categories. HQ's dashboard
    reads an entry through its shares when it has them (mall/hq/analytics.py), else through
    detail.category. The shares of an entry add up to its points."""

    __tablename__ = "ledger_entry_categories"

    entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entries.id", ondelete="CASCADE"), primary_key=True)
    category: Mapped[str] = mapped_column(String(40), primary_key=True)
    points: Mapped[int]
    spend_minor: Mapped[int] = mapped_column(default=0)
