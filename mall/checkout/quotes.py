"""Pricing a member's request against the live catalogue: the same numbers for the page
that shows them and for the order that charges them."""
from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload

from ..catalog.cache import catalog_cache, watch
from ..catalog.models import Item, PricePlan
from ..catalog.services import item_card, sells_now, tier_price
from ..errors import DomainError, ItemLocked, NotFound
from ..extensions import db
from ..points.statement import spendable
from ..points.tiers import TierStatus, tier_status
from ..wallet.models import CouponSpec  # it maps Item.coupon_spec, loaded below
from .pricing import CASH_OFFSET, POINTS, Quote, max_offset_points, quote

MAX_QUANTITY = 20


class InvalidQuantity(DomainError):
    message = _l("Choose a quantity between 1 and %(n)s.", n=MAX_QUANTITY)
    field = "quantity"


@dataclass(frozen=True)
class LineRequest:
    item_id: int
    plan_id: int
    quantity: int = 1
    offset_points: int = 0


@dataclass(frozen=True)
class PricedLine:
    item: Item
    plan: PricePlan
    quantity: int
    offset_points: int
    quote: Quote
    unit_points: int            # points plans: this member's tier price
    max_offset_points: int      # offset plans: the most points usable on the line


@dataclass(frozen=True)
class Totals:
    lines: list[PricedLine]
    points: int
    cash_minor: int
    balance: int
    coupon: object = None  # coupons.CouponUse: a coupon taken off cash_minor (and the lines' cash)

    @property
    def balance_after(self) -> int:
        return self.balance - self.points

    @property
    def affordable(self) -> bool:
        return self.points <= self.balance

    @property
    def points_short(self) -> int:
        """How many more points this quote needs: 0 when affordable. The page's "need N
        more", its balance after and its Buy button all read this one quote."""
        return max(0, self.points - self.balance)


_WITH_PLANS = (joinedload(Item.plans), joinedload(Item.category), joinedload(Item.tier_prices),
               joinedload(Item.min_tier), joinedload(Item.coupon_spec))
watch(CouponSpec)  # loaded with the item, so cached with it: its edits drop the copies too


def _load_with_plans(item_id: int) -> Item | None:
    return db.session.get(Item, item_id, options=_WITH_PLANS)


def item_with_plans(item_id: int) -> Item | None:
    """The item with everything pricing needs (plans, category, tier prices, lowest tier) in
    one query (and the coupon it sells, if any: mall/wallet/models.py): the hot path of a flash sale. The view loads it; pricing then finds it in the
    session without another query. With Redis, the graph comes from a copy a few seconds old
    at most, dropped on any catalogue edit (mall/catalog/cache.py): no query at all."""
    cache = catalog_cache()
    if cache is None:
        return _load_with_plans(item_id)
    return cache.get(Item, item_id, lambda: _load_with_plans(item_id))


_PRICING_NEEDS = ("plans", "category", "tier_prices", "min_tier", "coupon_spec")


def _priced_item(item_id: int) -> Item | None:
    """The item as item_with_plans loaded it (the view did, moments ago), straight from the
    session: `session.get` with its five loader options costs about as much CPU as a small
    query even when the item is there (issue 15). Loaded when it is not, or lacks a part."""
    item = db.session.identity_map.get((Item, (item_id,), None))
    if item is not None and all(name in item.__dict__ for name in _PRICING_NEEDS):
        return item
    return item_with_plans(item_id)


def plans_for(item_id: int) -> list[PricePlan]:
    return [p for p in item_with_plans(item_id).plans if p.active]


# For items whose price and access are the same in every tier (no tier prices, no lowest
# tier): the member's tier is then never read, so it is not worked out (three queries).
UNTIERED = TierStatus(tier=None, next_tier=None, qualifying_minor=0)


def _priced_by_tier(item_id: int) -> bool:
    item = _priced_item(item_id)  # in the session already: the view loaded it
    return item is None or item.min_tier_id is not None or bool(item.tier_prices)


def price_line(request: LineRequest, status: TierStatus, *, points_per_unit: int, now: datetime | None = None) -> PricedLine:
    if not isinstance(request.quantity, int) or not 1 <= request.quantity <= MAX_QUANTITY:
        raise InvalidQuantity()
    item = _priced_item(request.item_id)
    plan = next((p for p in item.plans if p.id == request.plan_id), None) if item is not None else None
    if item is None or not sells_now(item, now) or plan is None or not plan.active:
        raise NotFound()
    if not status.reaches(item.min_tier):
        raise ItemLocked()
    unit_points = tier_price(item, status.tier) if plan.kind == POINTS else plan.points
    most = (max_offset_points(plan.cash_minor * request.quantity, plan.max_offset_pct, points_per_unit)
            if plan.kind == CASH_OFFSET else 0)
    q = quote(plan.kind, quantity=request.quantity, unit_points=unit_points, unit_cash_minor=plan.cash_minor,
              max_offset_pct=plan.max_offset_pct or 0, points_per_unit=points_per_unit,
              offset_points=request.offset_points if plan.kind == CASH_OFFSET else 0)
    return PricedLine(item=item, plan=plan, quantity=request.quantity, offset_points=q.points if plan.kind == CASH_OFFSET else 0,
                      quote=q, unit_points=unit_points, max_offset_points=most)


def price(member_id: int, requests: list[LineRequest], now: datetime, *, points_per_unit: int,
          balance: int | None = None) -> Totals:
    """`balance`: the member's spendable points when the caller has them already (checkout
    read them with the account row it locked); else they are summed from the lots."""
    status = tier_status(member_id, now) if any(_priced_by_tier(r.item_id) for r in requests) else UNTIERED
    lines = [price_line(r, status, points_per_unit=points_per_unit, now=now) for r in requests]
    return Totals(lines=lines, points=sum(l.quote.points for l in lines),
                  cash_minor=sum(l.quote.cash_minor for l in lines),
                  balance=spendable(member_id, now) if balance is None else balance)


@dataclass(frozen=True)
class PlanOption:
    plan: PricePlan
    unit_points: int       # points plans: this member's tier price; points_cash: the fixed points
    max_offset_points: int  # offset plans, for one unit


def plan_options(item_id: int, status: TierStatus, *, points_per_unit: int) -> list[PlanOption]:
    card = item_card(item_id, status, 0)
    return [PlanOption(plan=p, unit_points=card.price if p.kind == POINTS else p.points,
                       max_offset_points=max_offset_points(p.cash_minor, p.max_offset_pct or 0, points_per_unit)
                       if p.kind == CASH_OFFSET else 0)
            for p in plans_for(item_id)]


def quote_or_none(member_id: int, request: LineRequest, now: datetime, *, points_per_unit: int) -> Totals | None:
    """The quote to show first on an item page; None when this member can't buy it at all."""
    try:
        return price(member_id, [request], now, points_per_unit=points_per_unit)
    except DomainError:
        return None
