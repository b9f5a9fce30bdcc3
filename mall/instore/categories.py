"""Purchase categories: what a receipt line's category may be.

A line's category is a catalogue category (mall/catalog) or one of the merchant's own
purchase categories, kept in the console (gift cards, tobacco, services...). A merchant
category marked `excluded` never earns points; so does any line the till flags excluded.
"" is the default category of a purchase sent without lines.
"""
import re
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..catalog.services import categories as catalogue_categories
from ..errors import DomainError, NotFound
from ..extensions import db
from .models import PurchaseCategory, PurchaseLine

SLUG_PATTERN = r"[a-z0-9][a-z0-9_-]{0,39}"


class InvalidPurchaseCategory(DomainError):
    message = _l("Check the category.")


@dataclass(frozen=True)
class CategoryInfo:
    slug: str
    name: str
    name_zh: str | None
    excluded: bool
    merchant: bool   # one of the merchant's purchase categories (else the catalogue's)


def known_categories() -> dict[str, CategoryInfo]:
    """Every category a line may name: the catalogue's, then the merchant's (which win)."""
    out = {c.slug: CategoryInfo(c.slug, c.name, c.name_zh, False, False) for c in catalogue_categories()}
    for c in merchant_categories():
        out[c.slug] = CategoryInfo(c.slug, c.name, c.name_zh, c.excluded, True)
    return out


def merchant_categories() -> list[PurchaseCategory]:
    return list(db.session.scalars(select(PurchaseCategory).order_by(PurchaseCategory.slug)))


def save_purchase_category(slug: str, name: str, *, name_zh: str | None = None, excluded: bool = False) -> PurchaseCategory:
    """Create or update a merchant purchase category. Raises InvalidPurchaseCategory."""
    slug = (slug or "").strip().lower()
    if not re.fullmatch(SLUG_PATTERN, slug):
        raise InvalidPurchaseCategory(_l("Use lower-case letters, digits, - or _ (up to 40)."), field="slug")
    if not (name or "").strip() or len(name.strip()) > 60:
        raise InvalidPurchaseCategory(_l("Give the category a name (up to 60 characters)."), field="name")
    row = db.session.scalar(select(PurchaseCategory).where(PurchaseCategory.slug == slug))
    if row is None:
        row = PurchaseCategory(slug=slug)
        db.session.add(row)
    row.name, row.name_zh, row.excluded = name.strip(), (name_zh or "").strip()[:60] or None, bool(excluded)
    db.session.flush()
    return row


def delete_purchase_category(slug: str) -> None:
    """Remove a merchant category no purchase line uses yet. Raises NotFound,
    InvalidPurchaseCategory when lines use it (it explains their past points)."""
    row = db.session.scalar(select(PurchaseCategory).where(PurchaseCategory.slug == slug))
    if row is None:
        raise NotFound()
    if db.session.scalar(select(PurchaseLine.id).where(PurchaseLine.category == slug).limit(1)):
        raise InvalidPurchaseCategory(_l("Purchases use this category; it can't be removed."), field="slug")
    db.session.delete(row)
    db.session.flush()
