"""The tiered catalogue as a member sees it: their tier's price, what's locked, what's affordable.

Prices and eligibility are computed here once; templates only branch on ready-made flags.
"""
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import aliased

from ..accounts.services import pin_target as set_target
from ..errors import NotFound
from ..extensions import db
from ..inventory.models import StockLevel
from ..pagination import paginate
from ..points.models import Tier
from ..points.tiers import TierStatus
from .models import Category, Item, ItemTierPrice

MinTier = aliased(Tier)


@dataclass(frozen=True)
class ItemCard:
    item: Item
    price: int              # what this member's tier pays, in points
    list_price: int
    available: int
    low_stock_threshold: int
    locked: bool            # the member's tier may not redeem it yet
    unlock_tier: Tier | None
    spend_to_unlock: int    # minor units of qualifying spend still needed
    unlock_progress: int    # percent
    affordable: bool        # unlocked, in stock and within the balance now
    points_short: int       # how many more points the member needs

    @property
    def stock_state(self) -> str:
        if self.available <= 0:
            return "sold_out"
        if self.available <= self.low_stock_threshold:
            return "low"
        return "in_stock"

    @property
    def discounted(self) -> bool:
        return self.price < self.list_price


@dataclass(frozen=True)
class CatalogPage:
    cards: list[ItemCard]
    page: int
    has_more: bool
    total: int


def _price_expr():
    return func.coalesce(ItemTierPrice.points, Item.points_price)


def on_sale(now: datetime | None):
    """Published, and inside its schedule when it has one (now=None ignores the schedule)."""
    condition = Item.published.is_(True)
    if now is not None:
        condition = condition & or_(Item.available_from.is_(None), Item.available_from <= now) & or_(
            Item.available_until.is_(None), Item.available_until > now)
    return condition


def sells_now(item: Item, now: datetime | None) -> bool:
    """`on_sale` for an item already loaded: published, and inside its schedule."""
    return item.published and (now is None or (
        (item.available_from is None or item.available_from <= now)
        and (item.available_until is None or item.available_until > now)))


def tier_price(item: Item, tier: Tier) -> int:
    """`_price_expr` for an item loaded with its tier prices: the tier's price, else the list price."""
    return next((p.points for p in item.tier_prices if p.tier_id == tier.id), item.points_price)


def _card_query(tier: Tier, now: datetime | None):
    available = func.coalesce(StockLevel.received - StockLevel.reserved - StockLevel.sold, 0)
    return (
        select(Item, _price_expr().label("price"), available.label("available"),
               func.coalesce(StockLevel.low_stock_threshold, 0).label("low"), MinTier)
        .outerjoin(ItemTierPrice, and_(ItemTierPrice.item_id == Item.id, ItemTierPrice.tier_id == tier.id))
        .outerjoin(StockLevel, StockLevel.item_id == Item.id)
        .outerjoin(MinTier, MinTier.id == Item.min_tier_id)
        .where(on_sale(now)),
        available,
    )


def _card(row, status: TierStatus, balance: int) -> ItemCard:
    item, price, available, low, min_tier = row
    locked = not status.reaches(min_tier)
    return ItemCard(
        item=item, price=price, list_price=item.points_price, available=available,
        low_stock_threshold=low, locked=locked, unlock_tier=min_tier if locked else None,
        spend_to_unlock=status.spend_to_reach(min_tier) if locked else 0,
        unlock_progress=status.progress_to(min_tier) if locked else 100,
        affordable=not locked and available > 0 and price <= balance,
        points_short=max(price - balance, 0))


def categories() -> list[Category]:
    return list(db.session.scalars(select(Category).order_by(Category.position, Category.id)))


def names_by_sku(skus) -> dict[str, tuple[str, str | None]]:
    """{sku: (name, name_zh)} for the catalogue items among `skus` (a till line that sells a
    catalogue item names it by the item's SKU)."""
    wanted = {s for s in skus if s}
    if not wanted:
        return {}
    return {sku: (name, name_zh) for sku, name, name_zh in db.session.execute(
        select(Item.sku, Item.name, Item.name_zh).where(Item.sku.in_(wanted))).all()}


# How the catalogue may be ordered; "" is the merchandisers' order (oldest item first).
CATALOG_SORTS = ("", "points_asc", "points_desc", "newest", "popular")


def browse(status: TierStatus, balance: int, *, category: str | None = None,
           affordable_only: bool = False, search: str = "", sort: str = "", page: int = 1,
           per_page: int = 12, now: datetime | None = None, kind: str = "") -> CatalogPage:
    """One page of the catalogue for a member's tier and balance. The filters combine: a
    category, only what the member can redeem now, and a search in the English and the
    Chinese name (taken literally: % and _ match themselves). `sort` is one of
    CATALOG_SORTS (points are the member's tier price; popular is units sold); an unknown
    value keeps the default order. Ties are broken by item id, so pages never overlap."""
    query, available = _card_query(status.tier, now)
    if category:
        query = query.join(Category, Category.id == Item.category_id).where(Category.slug == category)
    if kind:
        query = query.where(Item.kind == kind)
    if affordable_only:
        query = query.where(_price_expr() <= balance, available > 0,
                            or_(Item.min_tier_id.is_(None), MinTier.rank <= status.tier.rank))
    search = search.strip()
    if search:
        query = query.where(or_(Item.name.icontains(search, autoescape=True),
                                Item.name_zh.icontains(search, autoescape=True)))
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    order = {"points_asc": [_price_expr().asc()], "points_desc": [_price_expr().desc()],
             "newest": [Item.created_at.desc(), Item.id.desc()],
             "popular": [func.coalesce(StockLevel.sold, 0).desc()]}.get(sort, [])
    page = max(page, 1)
    rows = db.session.execute(
        query.order_by(*order, Item.id).offset((page - 1) * per_page).limit(per_page)).all()
    return CatalogPage(cards=[_card(r, status, balance) for r in rows], page=page,
                       has_more=page * per_page < total, total=total)


def item_card(item_id: int, status: TierStatus, balance: int, now: datetime | None = None) -> ItemCard:
    query, _ = _card_query(status.tier, now)
    row = db.session.execute(query.where(Item.id == item_id)).first()
    if row is None:
        raise NotFound()
    return _card(row, status, balance)


def pin_target(member_id: int, item_id: int | None) -> None:
    """Pin the reward a member is saving for (None unpins). Only published items."""
    if item_id is not None:
        item = db.session.get(Item, item_id)
        if item is None or not item.published:
            raise NotFound()
    set_target(member_id, item_id)


@dataclass(frozen=True)
class MerchandiseRow:
    item: Item
    available: int
    received: int
    low: bool


MERCH_SORTS = ("sku", "name", "points", "available", "newest")


def merchandise(*, search: str = "", sort: str = "sku", descending: bool = False, state: str = "",
                page: int = 1, per_page: int = 25) -> tuple[list[MerchandiseRow], int, int]:
    """The merchandiser's item list with stock: searchable by name or SKU, sortable, and
    filterable to published, hidden or low-stock items. Returns rows, page, pages."""
    available = func.coalesce(StockLevel.received - StockLevel.reserved - StockLevel.sold, 0)
    low = available <= func.coalesce(StockLevel.low_stock_threshold, 0)
    query = select(Item, StockLevel).outerjoin(StockLevel, StockLevel.item_id == Item.id)
    if search:
        like = f"%{search.strip()}%"
        query = query.where(or_(Item.name.ilike(like), Item.sku.ilike(like), Item.name_zh.ilike(like)))
    if state == "published":
        query = query.where(Item.published.is_(True))
    elif state == "hidden":
        query = query.where(Item.published.is_(False))
    elif state == "low":
        query = query.where(low)
    column = {"sku": Item.sku, "name": Item.name, "points": Item.points_price, "available": available,
              "newest": Item.created_at}.get(sort, Item.sku)
    if sort == "newest":
        descending = not descending  # newest first unless reversed
    order = [column.desc() if descending else column.asc(), Item.id]
    p = paginate(query.order_by(*order), page, per_page, rows=True)
    result = []
    for item, stock in p.items:
        level = stock.available if stock else 0
        result.append(MerchandiseRow(item=item, available=level, received=stock.received if stock else 0,
                                     low=level <= (stock.low_stock_threshold if stock else 0)))
    return result, p.page, p.pages
