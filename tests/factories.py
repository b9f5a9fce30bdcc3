"""Test data made through the app's own services, so it obeys the same invariants."""
from datetime import timedelta
from itertools import count

from mall.accounts.services import register
from mall.catalog.models import Category, Item, ItemTierPrice, PricePlan
from mall.extensions import db
from mall.inventory.models import StockLevel
from mall.inventory.services import receive_stock
from mall.points.ledger import credit_points
from mall.points.models import Tier

PASSWORD = "correct-horse-42"
_seq = count(1)

TIERS = [("silver", "Silver", "银卡", 1, 0, 100, 12),
         ("gold", "Gold", "金卡", 2, 500_000, 120, 12),
         ("diamond", "Diamond", "钻石卡", 3, 2_000_000, 150, 24)]


def make_tiers() -> dict[str, Tier]:
    tiers = {}
    for code, name, name_zh, rank, threshold, mult, months in TIERS:
        tiers[code] = Tier(code=code, name=name, name_zh=name_zh, rank=rank, threshold_minor=threshold,
                           multiplier_pct=mult, validity_months=months)
        db.session.add(tiers[code])
    db.session.flush()
    return tiers


def make_user(now, *, role="member", login=None, name="Test Member", password=PASSWORD):
    login = login or f"user{next(_seq)}@example.com"
    return register(login, password, name, now=now, role=role)


def give_points(member_id, points, now, *, days_valid=365, key=None):
    return credit_points(member_id, points, reason="welcome", source="test", key=key or f"give-{next(_seq)}",
                         expires_at=now + timedelta(days=days_valid), now=now)


def make_category(slug="home", name="Home"):
    category = db.session.query(Category).filter_by(slug=slug).one_or_none()
    if category is None:
        category = Category(slug=slug, name=name, name_zh=name, position=next(_seq))
        db.session.add(category)
        db.session.flush()
    return category


def make_item(now, *, name=None, points=1000, category="home", min_tier=None, tier_prices=None,
              stock=10, published=True, plans=(), limit=None, kind="goods"):
    """An item with a points-only plan plus `plans`: (kind, points, cash_minor, max_offset_pct)."""
    n = next(_seq)
    item = Item(sku=f"SKU-{n}", name=name or f"Item {n}", name_zh=f"商品 {n}", description="A thing.",
                category=make_category(category, category.title()), points_price=points,
                min_tier=min_tier, published=published, created_at=now, per_member_limit=limit, kind=kind)
    item.plans = [PricePlan(kind="points", position=0)] + [
        PricePlan(kind=k, points=p, cash_minor=c, max_offset_pct=pct, position=n + 1)
        for n, (k, p, c, pct) in enumerate(plans)]
    item.tier_prices = [ItemTierPrice(tier_id=t.id, points=p) for t, p in (tier_prices or {}).items()]
    db.session.add(item)
    db.session.flush()
    db.session.add(StockLevel(item_id=item.id, low_stock_threshold=5))
    if stock:
        receive_stock(item.id, stock, reference="T", reason="test stock", now=now)
    return item
