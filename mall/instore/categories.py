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
from ..pagination import Page, paginate
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


def list_purchase_categories(page: int = 1, per_page: int = 25) -> Page:
    """One page of the merchant's purchase categories, by slug (the console's list)."""
    return paginate(select(PurchaseCategory).order_by(PurchaseCategory.slug, PurchaseCategory.id), page, per_page)


def purchase_category(category_id: int) -> PurchaseCategory:
    """One purchase category by id. Raises NotFound."""
    row = db.session.get(PurchaseCategory, category_id)
    if row is None:
        raise NotFound()
    return row


def _checked(name: str, name_zh: str | None) -> tuple[str, str | None]:
    if not (name or "").strip() or len(name.strip()) > 60:
        raise InvalidPurchaseCategory(_l("Give the category a name (up to 60 characters)."), field="name")
    if len((name_zh or "").strip()) > 60:
        raise InvalidPurchaseCategory(_l("Up to 60 characters."), field="name_zh")
    return name.strip(), (name_zh or "").strip() or None


def _checked_slug(slug: str) -> str:
    slug = (slug or "").strip().lower()
    if not re.fullmatch(SLUG_PATTERN, slug):
        raise InvalidPurchaseCategory(_l("Use lower-case letters, digits, - or _ (up to 40)."), field="slug")
    return slug


def create_purchase_category(slug: str, name: str, *, name_zh: str | None = None,
                             excluded: bool = False) -> PurchaseCategory:
    """Add a merchant purchase category. Its slug is what tills send on a line, so it must be
    new and must not be a catalogue category's (a line would not know which one it meant).
    Raises InvalidPurchaseCategory (naming the field) before writing anything."""
    slug = _checked_slug(slug)
    name, name_zh = _checked(name, name_zh)
    if db.session.scalar(select(PurchaseCategory.id).where(PurchaseCategory.slug == slug)) is not None:
        raise InvalidPurchaseCategory(_l("There is already a purchase category with this slug."), field="slug")
    if any(c.slug == slug for c in catalogue_categories()):
        raise InvalidPurchaseCategory(_l("A catalogue category uses this slug; choose another."), field="slug")
    row = PurchaseCategory(slug=slug, name=name, name_zh=name_zh, excluded=bool(excluded))
    db.session.add(row)
    db.session.flush()
    return row


def update_purchase_category(category_id: int, name: str, *, name_zh: str | None = None,
                             excluded: bool = False) -> PurchaseCategory:
    """Rename a purchase category or change whether it earns. The slug stays: past purchase
    lines name it. Raises NotFound, InvalidPurchaseCategory."""
    row = purchase_category(category_id)
    row.name, row.name_zh = _checked(name, name_zh)
    row.excluded = bool(excluded)
    db.session.flush()
    return row


def save_purchase_category(slug: str, name: str, *, name_zh: str | None = None, excluded: bool = False) -> PurchaseCategory:
    """Create or update a merchant purchase category by slug (set-up and tests).
    Raises InvalidPurchaseCategory."""
    row = db.session.scalar(select(PurchaseCategory).where(PurchaseCategory.slug == _checked_slug(slug)))
    if row is None:
        return create_purchase_category(slug, name, name_zh=name_zh, excluded=excluded)
    return update_purchase_category(row.id, name, name_zh=name_zh, excluded=excluded)


def delete_purchase_category(category_id: int) -> PurchaseCategory:
    """Remove a merchant category no purchase line uses yet. Raises NotFound,
    InvalidPurchaseCategory when lines use it (it explains their past points)."""
    row = purchase_category(category_id)
    if db.session.scalar(select(PurchaseLine.id).where(PurchaseLine.category == row.slug).limit(1)):
        raise InvalidPurchaseCategory(_l("Purchases use this category; it can't be removed."), field="slug")
    db.session.delete(row)
    db.session.flush()
    return row
