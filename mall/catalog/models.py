from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..points.models import Tier
from ..types import UTCDateTime


class Category(db.Model):
    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(60))
    name_zh: Mapped[str | None] = mapped_column(String(60))
    position: Mapped[int] = mapped_column(default=0)


# What a reward is: goods picked up at a store (as always), a coupon or a red packet that
# lands in the member's wallet, a service booked in a slot, or a right held for a time.
ITEM_KINDS = ("goods", "coupon", "red_packet", "service", "right")
# Kinds whose order is fulfilled the moment it is paid: nothing to pick up or attend.
INSTANT_KINDS = ("coupon", "red_packet", "right")


class Item(db.Model):
    __tablename__ = "items"
    __table_args__ = (CheckConstraint("points_price > 0", name="points_price_positive"),
                      CheckConstraint(f"kind IN {ITEM_KINDS!r}", name="known_kind"),
                      CheckConstraint("per_member_limit IS NULL OR per_member_limit > 0", name="limit_positive"),
                      CheckConstraint("available_until IS NULL OR available_from IS NULL OR available_until > available_from",
                                      name="window_ends_after_it_starts"))

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    name_zh: Mapped[str | None] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    description_zh: Mapped[str | None] = mapped_column(Text)
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"), index=True)
    # Path under static/ (demo art) or under the uploads folder (merchandiser uploads).
    image: Mapped[str | None] = mapped_column(String(200))
    # The lowest tier that may redeem; NULL means every member.
    min_tier_id: Mapped[int | None] = mapped_column(ForeignKey("tiers.id"))
    # The list price in points; a tier may pay less (ItemTierPrice).
    points_price: Mapped[int]
    kind: Mapped[str] = mapped_column(String(12), default="goods", server_default="goods", index=True)
    published: Mapped[bool] = mapped_column(default=True, index=True)
    # How many units one member may hold in live orders; NULL means no limit.
    per_member_limit: Mapped[int | None]
    # Schedule: outside [available_from, available_until) a published item is not shown.
    available_from: Mapped[datetime | None] = mapped_column(UTCDateTime())
    available_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    category: Mapped[Category] = relationship()
    min_tier: Mapped[Tier | None] = relationship()
    tier_prices: Mapped[list["ItemTierPrice"]] = relationship(cascade="all, delete-orphan")
    plans: Mapped[list["PricePlan"]] = relationship(cascade="all, delete-orphan", order_by="PricePlan.position")


class ItemTierPrice(db.Model):
    __tablename__ = "item_tier_prices"
    __table_args__ = (
        UniqueConstraint("item_id", "tier_id", name="one_price_per_tier"),
        CheckConstraint("points > 0", name="points_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    tier_id: Mapped[int] = mapped_column(ForeignKey("tiers.id"))
    points: Mapped[int]


PLAN_KINDS = ("points", "points_cash", "cash_offset")


class PricePlan(db.Model):
    """One way to pay for an item. "points" pays the member's tier price (Item/ItemTierPrice);
    "points_cash" is a fixed pair; "cash_offset" is a cash price that points may reduce by at
    most max_offset_pct percent. Pricing arithmetic lives in checkout/pricing.py."""

    __tablename__ = "price_plans"
    __table_args__ = (
        CheckConstraint(f"kind IN {PLAN_KINDS!r}", name="known_kind"),
        CheckConstraint("points >= 0 AND cash_minor >= 0", name="amounts_not_negative"),
        CheckConstraint("kind <> 'points_cash' OR (points > 0 AND cash_minor > 0)", name="points_cash_pays_both"),
        CheckConstraint("kind <> 'cash_offset' OR (cash_minor > 0 AND max_offset_pct BETWEEN 1 AND 100)",
                        name="offset_is_capped"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(12))
    points: Mapped[int] = mapped_column(default=0)
    cash_minor: Mapped[int] = mapped_column(default=0)
    max_offset_pct: Mapped[int | None]
    position: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)


class ItemSubstitute(db.Model):
    """A ranked alternative offered when the item is sold out (rank 1 first)."""

    __tablename__ = "item_substitutes"
    __table_args__ = (
        UniqueConstraint("item_id", "substitute_id", name="one_link_per_pair"),
        UniqueConstraint("item_id", "rank", name="one_item_per_rank"),
        CheckConstraint("item_id <> substitute_id", name="not_itself"),
        CheckConstraint("rank BETWEEN 1 AND 3", name="rank_1_to_3"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    substitute_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    rank: Mapped[int]


class ItemChange(db.Model):
    """Every change a merchandiser makes to an item: who, when, before -> after."""

    __tablename__ = "item_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(30))
    before: Mapped[dict] = mapped_column(JSON, default=dict)
    after: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    actor = relationship("User")
