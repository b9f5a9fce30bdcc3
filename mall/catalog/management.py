"""The merchandiser's changes to the catalogue. Each one is validated here (a refusal names
its field and changes nothing) and recorded as an ItemChange: who, when, before -> after."""
from dataclasses import asdict, dataclass, field
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from ..errors import DomainError, NotFound
from ..extensions import db
from ..inventory import services as stock
from ..inventory.models import StockLevel
from ..pagination import paginate
from .models import ITEM_KINDS, Category, Item, ItemChange, ItemSubstitute, ItemTierPrice, PricePlan


class InvalidItem(DomainError):
    pass


@dataclass
class PlanData:
    kind: str
    points: int = 0
    cash_minor: int = 0
    max_offset_pct: int | None = None
    active: bool = True


@dataclass
class ItemData:
    sku: str
    name: str
    category_id: int
    points_price: int
    name_zh: str | None = None
    description: str = ""
    description_zh: str | None = None
    min_tier_id: int | None = None
    tier_prices: dict[int, int] = field(default_factory=dict)
    per_member_limit: int | None = None
    available_from: datetime | None = None
    available_until: datetime | None = None
    plans: list[PlanData] = field(default_factory=lambda: [PlanData("points")])
    kind: str = "goods"  # models.ITEM_KINDS


def _check(data: ItemData) -> None:
    if not data.sku.strip():
        raise InvalidItem(_l("Give the item a SKU."), field="sku")
    if not data.name.strip():
        raise InvalidItem(_l("Give the item a name."), field="name")
    if db.session.get(Category, data.category_id) is None:
        raise InvalidItem(_l("Choose a category."), field="category_id")
    if not isinstance(data.points_price, int) or data.points_price <= 0:
        raise InvalidItem(_l("The points price must be a whole number above zero."), field="points_price")
    if any(not isinstance(p, int) or p <= 0 for p in data.tier_prices.values()):
        raise InvalidItem(_l("A tier price must be a whole number above zero."), field="tier_prices")
    if data.per_member_limit is not None and data.per_member_limit <= 0:
        raise InvalidItem(_l("The limit per member must be 1 or more, or empty for no limit."),
                          field="per_member_limit")
    if data.available_from and data.available_until and data.available_until <= data.available_from:
        raise InvalidItem(_l("The window must end after it starts."), field="available_until")
    if not data.plans:
        raise InvalidItem(_l("An item needs at least one way to pay."), field="plans")
    if data.kind not in ITEM_KINDS:
        raise InvalidItem(_l("Choose what kind of reward this is."), field="kind")
    for plan in data.plans:
        check_plan(plan)


def check_plan(plan: PlanData) -> None:
    """Refuse a plan with nothing to pay, or an offset without a sensible cap."""
    if plan.kind == "points":
        return
    if plan.kind == "points_cash":
        if plan.points <= 0 or plan.cash_minor <= 0:
            raise InvalidItem(_l("Points + cash needs both points and cash above zero."), field="plans")
        return
    if plan.kind == "cash_offset":
        if plan.cash_minor <= 0:
            raise InvalidItem(_l("A cash price plan needs a cash price above zero."), field="plans")
        if plan.max_offset_pct is None or not 1 <= plan.max_offset_pct <= 100:
            raise InvalidItem(_l("The points offset cap must be between 1% and 100%."), field="plans")
        return
    raise InvalidItem(_l("Unknown kind of price plan."), field="plans")


def snapshot(item: Item) -> dict:
    """What a change log compares: plain values only."""
    def when(value):
        return value.isoformat() if value else None
    return {
        "sku": item.sku, "name": item.name, "name_zh": item.name_zh, "description": item.description,
        "description_zh": item.description_zh, "category_id": item.category_id, "min_tier_id": item.min_tier_id,
        "points_price": item.points_price, "per_member_limit": item.per_member_limit, "kind": item.kind,
        "available_from": when(item.available_from), "available_until": when(item.available_until),
        "published": item.published, "image": item.image,
        "tier_prices": {str(tp.tier_id): tp.points for tp in sorted(item.tier_prices, key=lambda t: t.tier_id)},
        "plans": [{"kind": p.kind, "points": p.points, "cash_minor": p.cash_minor,
                   "max_offset_pct": p.max_offset_pct, "active": p.active} for p in item.plans],
    }


def _log(item: Item, action: str, before: dict, actor_id: int | None, now: datetime) -> None:
    after = snapshot(item)
    changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    if before and not changed:
        return
    db.session.add(ItemChange(item_id=item.id, actor_id=actor_id, action=action, created_at=now,
                              before={k: before.get(k) for k in changed} if before else {},
                              after={k: after.get(k) for k in changed} if before else after))


def record_change(item_id: int, action: str, before: dict, after: dict, *, actor_id: int | None,
                  now: datetime) -> None:
    """Log a change made outside the item's own fields (presale, stock warning...), keeping
    only the keys that changed; nothing is logged when nothing changed."""
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    if changed:
        db.session.add(ItemChange(item_id=item_id, actor_id=actor_id, action=action, created_at=now,
                                  before={k: before.get(k) for k in changed},
                                  after={k: after.get(k) for k in changed}))


def set_low_stock_threshold(item_id: int, threshold: int, *, now: datetime, actor_id: int | None = None) -> None:
    """The available count at or below which the item is flagged as low (inventory's), kept
    in the item's history."""
    before = stock.set_low_stock_threshold(item_id, threshold)
    record_change(item_id, "low_stock_threshold", {"low_stock_threshold": before},
                  {"low_stock_threshold": threshold}, actor_id=actor_id, now=now)


def _apply(item: Item, data: ItemData) -> None:
    for name in ("sku", "name", "name_zh", "description", "description_zh", "category_id", "min_tier_id",
                 "points_price", "per_member_limit", "available_from", "available_until", "kind"):
        value = getattr(data, name)
        setattr(item, name, value.strip() if isinstance(value, str) else value)
    # Rows are updated in place: replacing them would insert before deleting and trip the
    # one-price-per-tier constraint, and would drop members' cart lines for unchanged plans.
    by_tier = {tp.tier_id: tp for tp in item.tier_prices}
    for tier_id in set(by_tier) - set(data.tier_prices):
        item.tier_prices.remove(by_tier[tier_id])
    for tier_id, points in sorted(data.tier_prices.items()):
        if tier_id in by_tier:
            by_tier[tier_id].points = points
        else:
            item.tier_prices.append(ItemTierPrice(tier_id=tier_id, points=points))
    existing = list(item.plans)
    for position, plan in enumerate(data.plans):
        if position < len(existing):
            for name, value in asdict(plan).items():
                setattr(existing[position], name, value)
            existing[position].position = position
        else:
            item.plans.append(PricePlan(position=position, **asdict(plan)))
    for surplus in existing[len(data.plans):]:
        item.plans.remove(surplus)


def _unique_sku(sku: str, item_id: int | None) -> None:
    other = db.session.scalar(select(Item.id).where(Item.sku == sku.strip()))
    if other is not None and other != item_id:
        raise InvalidItem(_l("Another item already has that SKU."), field="sku")


def create_item(data: ItemData, *, actor_id: int | None, now: datetime, published: bool = False) -> Item:
    _check(data)
    _unique_sku(data.sku, None)
    item = Item(published=published, created_at=now)
    _apply(item, data)
    db.session.add(item)
    db.session.flush()
    db.session.add(StockLevel(item_id=item.id))
    _log(item, "created", {}, actor_id, now)
    db.session.flush()
    return item


def update_item(item_id: int, data: ItemData, *, actor_id: int | None, now: datetime) -> Item:
    item = get_item(item_id)
    _check(data)
    _unique_sku(data.sku, item_id)
    before = snapshot(item)
    _apply(item, data)
    db.session.flush()
    _log(item, "edited", before, actor_id, now)
    return item


def set_published(item_id: int, published: bool, *, actor_id: int | None, now: datetime) -> Item:
    item = get_item(item_id)
    before = snapshot(item)
    item.published = published
    _log(item, "published" if published else "unpublished", before, actor_id, now)
    return item


def set_image(item_id: int, path: str, *, actor_id: int | None, now: datetime) -> Item:
    item = get_item(item_id)
    before = snapshot(item)
    item.image = path
    _log(item, "image", before, actor_id, now)
    return item


def get_item(item_id: int) -> Item:
    item = db.session.get(Item, item_id)
    if item is None:
        raise NotFound()
    return item


def history(item_id: int, *, page: int = 1, per_page: int = 30) -> tuple[list[ItemChange], int, int]:
    """The item's change log, newest first, with who made each change. Returns rows, page, pages."""
    p = paginate(select(ItemChange).where(ItemChange.item_id == item_id)
                 .options(joinedload(ItemChange.actor))
                 .order_by(ItemChange.created_at.desc(), ItemChange.id.desc()), page, per_page)
    return p.items, p.page, p.pages


def substitutes(item_id: int) -> list[ItemSubstitute]:
    return list(db.session.scalars(select(ItemSubstitute).where(ItemSubstitute.item_id == item_id)
                                   .order_by(ItemSubstitute.rank)))


def _checked_slug(slug: str, category_id: int | None) -> str:
    slug = (slug or "").strip().lower()
    if not slug or not slug.replace("-", "").isalnum() or not slug.isascii():
        raise InvalidItem(_l("Use letters, digits and dashes only."), field="slug")
    other = db.session.scalar(select(Category.id).where(Category.slug == slug))
    if other is not None and other != category_id:
        raise InvalidItem(_l("That short name is taken."), field="slug")
    return slug


def _checked_name(name: str) -> str:
    if not (name or "").strip():
        raise InvalidItem(_l("Give the category a name."), field="name")
    return name.strip()


def create_category(slug: str, name: str, name_zh: str | None) -> Category:
    slug, name = _checked_slug(slug, None), _checked_name(name)
    position = (db.session.scalar(select(db.func.max(Category.position))) or 0) + 1
    category = Category(slug=slug, name=name, name_zh=(name_zh or "").strip() or None, position=position)
    db.session.add(category)
    db.session.flush()
    return category


def update_category(category_id: int, slug: str, name: str, name_zh: str | None) -> Category:
    """Rename a category or change its short name (links to the old one stop working)."""
    category = db.session.get(Category, category_id)
    if category is None:
        raise NotFound()
    category.slug, category.name = _checked_slug(slug, category_id), _checked_name(name)
    category.name_zh = (name_zh or "").strip() or None
    db.session.flush()
    return category
