"""Red-packet campaigns (红包) and the claims members make from them.

A campaign is run by HQ (store_id NULL) or by one store. Its total (the budget, in fen) is
cut into `packet_count` packets when it is created: fixed amounts (min = max) or random
amounts in [min_minor, max_minor] (docs/redpackets.md). Each claim takes the next packet
under the campaign's row lock and lands in the member's wallet as a red packet.

Invariants backed by the schema:
- remaining_minor and remaining_count never go below zero, nor above what was created
  (CHECK): a claim that would overshoot the budget fails even if the code were wrong;
- every packet left can still be paid between min and max (CHECK on the remainder);
- a member's n-th claim on a campaign exists once: UNIQUE (campaign_id, account_id, n),
  with 1 <= n <= the campaign's limit enforced by the claim service under the row lock;
- the share token is unique and unguessable (secrets.token_urlsafe).
`mall audit` checks sum(claims) + remaining = total per campaign, claims per member within the
limit, and that each claim's wallet red packet exists with the same value.
"""
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..types import UTCDateTime


class Mode(StrEnum):
    FIXED = "fixed"     # every packet is amount_minor (min = max)
    RANDOM = "random"   # each packet drawn in [min, max], see amounts.py


class Audience(StrEnum):
    EVERYONE = "everyone"  # every member; listed on their wallet page
    TIER = "tier"          # members at tier_id's rank or above; listed to them
    SEGMENT = "segment"    # members in an RFM segment (as of the last refresh); listed to them
    LINK = "link"          # anyone signed in who has the share link; never listed


class Status(StrEnum):
    OPEN = "open"
    CLOSED = "closed"      # closed by HQ or the store: no further claims


MODES = tuple(m.value for m in Mode)
AUDIENCES = tuple(a.value for a in Audience)


class RedPacketCampaign(db.Model):
    __tablename__ = "red_packet_campaigns"
    __table_args__ = (
        CheckConstraint("total_minor > 0 AND packet_count > 0", name="total_positive"),
        CheckConstraint("min_minor > 0 AND min_minor <= max_minor", name="range_valid"),
        CheckConstraint("CAST(packet_count AS BIGINT) * min_minor <= total_minor "
                        "AND total_minor <= CAST(packet_count AS BIGINT) * max_minor",
                        name="packets_fit_total"),
        CheckConstraint("remaining_minor >= 0 AND remaining_count >= 0", name="remaining_not_negative"),
        CheckConstraint("remaining_minor <= total_minor AND remaining_count <= packet_count",
                        name="remaining_within_total"),
        CheckConstraint("CAST(remaining_count AS BIGINT) * min_minor <= remaining_minor "
                        "AND remaining_minor <= CAST(remaining_count AS BIGINT) * max_minor", name="remainder_payable"),
        CheckConstraint("mode IN ('fixed', 'random')", name="known_mode"),
        CheckConstraint("audience IN ('everyone', 'tier', 'segment', 'link')", name="known_audience"),
        CheckConstraint("status IN ('open', 'closed')", name="known_status"),
        CheckConstraint("limit_per_member >= 1", name="limit_positive"),
        CheckConstraint("ends_at > starts_at", name="window_valid"),
        CheckConstraint("(valid_until IS NULL) <> (valid_days IS NULL)", name="one_validity"),
        CheckConstraint("valid_days IS NULL OR valid_days > 0", name="valid_days_positive"),
        CheckConstraint("audience <> 'tier' OR tier_id IS NOT NULL", name="tier_named"),
        CheckConstraint("audience <> 'segment' OR segment IS NOT NULL", name="segment_named"),
        Index("ix_red_packet_campaigns_status_ends", "status", "ends_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    name_zh: Mapped[str | None] = mapped_column(String(80))
    mode: Mapped[str] = mapped_column(String(10))
    total_minor: Mapped[int]
    min_minor: Mapped[int]
    max_minor: Mapped[int]
    packet_count: Mapped[int]
    remaining_minor: Mapped[int]
    remaining_count: Mapped[int]
    audience: Mapped[str] = mapped_column(String(10), default=Audience.EVERYONE.value)
    tier_id: Mapped[int | None] = mapped_column(ForeignKey("tiers.id"))
    segment: Mapped[str | None] = mapped_column(String(20))
    limit_per_member: Mapped[int] = mapped_column(default=1)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Validity for use of each packet claimed: until a fixed moment, or N days from the claim.
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    valid_days: Mapped[int | None]
    share_token: Mapped[str] = mapped_column(String(43), unique=True)
    status: Mapped[str] = mapped_column(String(10), default=Status.OPEN.value)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def claimed_minor(self) -> int:
        return self.total_minor - self.remaining_minor

    @property
    def claimed_count(self) -> int:
        return self.packet_count - self.remaining_count

    def display_name(self, locale: str | None) -> str:
        return self.name_zh if (locale or "").startswith("zh") and self.name_zh else self.name


class RedPacketClaim(db.Model):
    """One packet a member took from a campaign: their n-th on it (1..limit)."""

    __tablename__ = "red_packet_claims"
    __table_args__ = (
        UniqueConstraint("campaign_id", "account_id", "n", name="one_claim_per_number"),
        CheckConstraint("n >= 1", name="n_positive"),
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        Index("ix_red_packet_claims_account", "account_id", "claimed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("red_packet_campaigns.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    n: Mapped[int]
    amount_minor: Mapped[int]
    wallet_item_id: Mapped[int | None] = mapped_column(ForeignKey("wallet_items.id"), unique=True)
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime())
