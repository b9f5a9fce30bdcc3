"""Presale: an item opens for pre-orders before its stock arrives (DESIGN.md #7)."""
from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, select
from sqlalchemy.orm import Mapped, column_property, mapped_column

from ..catalog.cache import watch
from ..catalog.models import Item
from ..extensions import db
from ..types import UTCDateTime


class Presale(db.Model):
    """`taken` counts pre-ordered units; one conditional UPDATE moves it, and the CHECK
    keeps it within the cap whatever runs concurrently."""

    __tablename__ = "presales"
    __table_args__ = (
        CheckConstraint("cap > 0", name="cap_positive"),
        CheckConstraint("taken >= 0 AND taken <= cap", name="never_over_cap"),
        CheckConstraint("closes_at > opens_at", name="window_ends_after_it_starts"),
        CheckConstraint("offer_hours > 0", name="offer_hours_positive"),
        CheckConstraint("priority_opens_at IS NULL OR priority_opens_at < opens_at", name="priority_before_opening"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), unique=True)
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Holders of the priority_purchase right (mall/rights) may pre-order from here until
    # opens_at, before everyone else; NULL: no priority window.
    priority_opens_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime())
    cap: Mapped[int]
    taken: Mapped[int] = mapped_column(default=0)
    ships_on: Mapped[date]
    offer_hours: Mapped[int] = mapped_column(default=72)  # how long a shortfall offer stays open
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    def is_open(self, now: datetime) -> bool:
        return self.opens_at <= now < self.closes_at

    def in_priority_window(self, now: datetime) -> bool:
        return self.priority_opens_at is not None and self.priority_opens_at <= now < self.opens_at

    @property
    def left(self) -> int:
        return self.cap - self.taken


# The item's presale, if any: a subquery (on the unique item_id) in every SELECT of items,
# so it comes with the item checkout loads (and caches: watched below, so a new presale drops
# the copies), and an item without a presale costs checkout no query to know it is not
# reserved for pre-orders (presale/availability.py).
Item.presale_id = column_property(
    select(Presale.id).where(Presale.item_id == Item.id).correlate_except(Presale).scalar_subquery())
# Only the ORM flush of a presale (save_presale) moves the catalogue version: a pre-order's
# `taken` UPDATE is a Core statement on the table, so a busy presale keeps the copies.
watch(Presale)
