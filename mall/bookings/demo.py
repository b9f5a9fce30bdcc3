"""Demo data for the reward kinds (issue 13): a home service with slots over the next days,
a priority-purchase right, a presale item with a priority window, and silver@example.com
holding priority purchase. Idempotent, like the rest of the demo."""
from datetime import datetime, time, timedelta

from sqlalchemy import select

from .. import shoptime
from ..accounts.models import User
from ..catalog.models import Category, Item, PricePlan
from ..extensions import db
from ..instore.models import Store
from ..inventory.models import StockLevel
from ..inventory.services import receive_stock
from ..presale.services import presale_for, save_presale
from ..rights.services import grant, save_spec
from ..settings import current as current_settings
from .models import ServiceSlot
from .services import add_slots

PRIORITY_HOLDER = "silver@example.com"


def _item(sku, category, name, name_zh, points, kind, stock, now) -> Item:
    item = db.session.scalar(select(Item).where(Item.sku == sku))
    if item is not None:
        return item
    item = Item(sku=sku, name=name, name_zh=name_zh, category=category, kind=kind,
                description=f"{name}.", description_zh=f"{name_zh}。", image=f"demo/items/{sku.lower()}.svg",
                points_price=points, published=True, created_at=now, per_member_limit=1 if kind == "right" else None)
    item.plans = [PricePlan(kind="points", position=0)]
    db.session.add(item)
    db.session.flush()
    db.session.add(StockLevel(item_id=item.id, received=0, low_stock_threshold=2))
    if stock:
        receive_stock(item.id, stock, reference="DEMO-OPENING", reason="opening stock", now=now)
    return item


def _category(slug, name, name_zh, position) -> Category:
    found = db.session.scalar(select(Category).where(Category.slug == slug))
    if found is None:
        found = Category(slug=slug, name=name, name_zh=name_zh, position=position)
        db.session.add(found)
        db.session.flush()
    return found


def load_kinds_demo(now: datetime) -> None:
    services = _category("services", "Services & rights", "服务与权益", 20)
    fresh = db.session.scalar(select(Category).where(Category.slug == "fresh")) or services
    store = db.session.scalar(select(Store).order_by(Store.id))
    zone = current_settings().timezone
    cleaning = _item("SVC-01", services, "Home cleaning, 2 h", "上门保洁 2 小时", 3000, "service", 0, now)
    if store is not None and db.session.scalar(select(ServiceSlot.id).where(ServiceSlot.item_id == cleaning.id)) is None:
        tomorrow = shoptime.local_day(now, zone) + timedelta(days=1)
        for hour in (10, 15):  # two visits a day for the next five days, two teams each
            starts = datetime.combine(tomorrow, time(hour), tzinfo=shoptime.shop_zone(zone))
            add_slots(cleaning, starts_at=starts.astimezone(now.tzinfo), minutes=120, store_id=store.id,
                      at_home=True, capacity=2, repeat_days=5, now=now)
    right = _item("RGT-01", services, "Priority purchase, 90 days", "优先购 90 天", 2000, "right", 100, now)
    save_spec(right.id, "priority_purchase", 90)
    mooncakes = _item("PRE-01", fresh, "Mooncake gift box (limited)", "限量月饼礼盒", 4800, "goods", 0, now)
    if presale_for(mooncakes.id) is None:
        save_presale(mooncakes.id, opens_at=now + timedelta(days=1), closes_at=now + timedelta(days=10), cap=30,
                     ships_on=(now + timedelta(days=14)).date(), offer_hours=72, now=now,
                     priority_opens_at=now - timedelta(hours=2))
    holder = db.session.scalar(select(User).where(User.email == PRIORITY_HOLDER))
    if holder is not None:
        grant(holder.id, "priority_purchase", source="demo:silver-priority", valid_from=now - timedelta(days=3),
              valid_until=now + timedelta(days=87), now=now, item_id=right.id)
