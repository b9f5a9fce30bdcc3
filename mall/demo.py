"""Demo data, loaded through the app's own services so it obeys every invariant.

Idempotent: rows are found by natural keys (tier code, SKU, login) and ledger history is
written with fixed idempotency keys, so a second run adds nothing.
"""
from datetime import datetime, timedelta

from sqlalchemy import select

from .accounts import services as accounts
from .accounts.models import Role, User
from .catalog.models import Category, Item, ItemTierPrice, PricePlan
from .extensions import db
from .instore.categories import save_purchase_category
from .instore.models import PurchaseCategory, Store
from .instore.purchases import LineInput, earn_for_member
from .inventory.models import StockLevel
from .inventory.services import receive_stock
from .points.categories import record_category_shares
from .points.ledger import expire_member_points, release_member_pending, spend_points
from .points.models import LedgerEntry, Tier

DEMO_PASSWORD = "demo-pass-2026"
DEMO_ART = "demo/items/{sku}.svg"

TIERS = [  # code, name, name_zh, rank, threshold (minor units), multiplier %, validity months
    ("silver", "Silver", "银卡", 1, 0, 100, 12),
    ("gold", "Gold", "金卡", 2, 500_000, 120, 12),
    ("diamond", "Diamond", "钻石卡", 3, 2_000_000, 150, 24),
]

CATEGORIES = [  # slug, name, name_zh
    ("home", "Home", "家居"), ("kitchen", "Kitchen", "厨房"), ("beauty", "Beauty", "美妆"),
    ("digital", "Digital", "数码"), ("fresh", "Fresh food", "生鲜"), ("vouchers", "Vouchers", "优惠券"),
    ("kids", "Kids", "母婴童趣"), ("travel", "Travel", "出行"),
]

# sku, category, name, name_zh, points, min tier, {tier: points}, stock
ITEMS = [
    ("HOME-01", "home", "Linen cushion cover", "亚麻抱枕套", 1800, None, {"gold": 1600, "diamond": 1500}, 40),
    ("HOME-02", "home", "Scented candle, cedar", "雪松香薰蜡烛", 2600, None, {"gold": 2400}, 25),
    ("HOME-03", "home", "Cotton bath towel set", "纯棉浴巾套装", 4200, None, {"diamond": 3800}, 3),
    ("HOME-04", "home", "Down duvet, queen", "羽绒被（双人）", 26000, "gold", {"diamond": 23000}, 6),
    ("KIT-01", "kitchen", "Stainless steel tumbler", "不锈钢保温杯", 2200, None, {"gold": 2000}, 60),
    ("KIT-02", "kitchen", "Ceramic rice bowls (4)", "陶瓷饭碗四件套", 1500, None, {}, 0),
    ("KIT-03", "kitchen", "Chef's knife", "主厨刀", 9800, "gold", {"diamond": 8800}, 12),
    ("KIT-04", "kitchen", "Cast iron casserole", "铸铁炖锅", 32000, "diamond", {}, 4),
    ("BEA-01", "beauty", "Hand cream trio", "护手霜三支装", 1200, None, {}, 80),
    ("BEA-02", "beauty", "Sheet mask box (10)", "面膜十片装", 1900, None, {"gold": 1700, "diamond": 1500}, 35),
    ("BEA-03", "beauty", "Perfume, 50 ml", "香水 50 毫升", 15800, "gold", {"diamond": 14000}, 8),
    ("BEA-04", "beauty", "Skincare gift set", "护肤礼盒", 22000, "diamond", {}, 5),
    ("DIG-01", "digital", "USB-C charging cable", "USB-C 充电线", 900, None, {}, 120),
    ("DIG-02", "digital", "Wireless earbuds", "无线耳机", 18800, "gold", {"diamond": 16800}, 15),
    ("DIG-03", "digital", "Power bank 10,000 mAh", "充电宝 10000 毫安", 6800, None, {"gold": 6200}, 2),
    ("DIG-04", "digital", "Smart watch", "智能手表", 68000, "diamond", {}, 3),
    ("FRE-01", "fresh", "Seasonal fruit box", "当季水果礼盒", 3200, None, {"gold": 2900}, 30),
    ("FRE-02", "fresh", "Organic eggs (30)", "有机鸡蛋三十枚", 1600, None, {}, 50),
    ("FRE-03", "fresh", "Premium beef, 1 kg", "精选牛肉一公斤", 12800, "gold", {"diamond": 11500}, 10),
    ("FRE-04", "fresh", "Hairy crab gift box", "大闸蟹礼盒", 38000, "diamond", {}, 0),
    ("VOU-01", "vouchers", "¥10 store voucher", "10 元店铺券", 1000, None, {}, 500),
    ("VOU-02", "vouchers", "¥50 store voucher", "50 元店铺券", 5000, None, {"diamond": 4800}, 300),
    ("VOU-03", "vouchers", "Free coffee coupon", "免费咖啡券", 600, None, {}, 200),
    ("VOU-04", "vouchers", "¥200 store voucher", "200 元店铺券", 20000, "gold", {"diamond": 19000}, 50),
    # A real coupon (issue 13): redeeming it puts a 满减 coupon in My wallet (mall/wallet/demo.py).
    ("VOU-05", "vouchers", "Spend ¥100, save ¥10 coupon", "满100减10元券", 800, None, {}, 500),
    ("KID-01", "kids", "Wooden puzzle", "木质拼图", 1400, None, {}, 45),
    ("KID-02", "kids", "Picture book set", "绘本套装", 3600, None, {"gold": 3300}, 20),
    ("KID-03", "kids", "Plush panda", "熊猫毛绒玩具", 2800, None, {}, 4),
    ("KID-04", "kids", "Building blocks, 500 pcs", "积木 500 块", 8800, "gold", {}, 9),
    ("TRA-01", "travel", "Packing cubes (3)", "旅行收纳袋三件套", 2400, None, {}, 33),
    ("TRA-02", "travel", "Neck pillow", "旅行颈枕", 1700, None, {}, 27),
    ("TRA-03", "travel", "Carry-on suitcase", "登机箱", 42000, "gold", {"diamond": 38000}, 7),
    ("TRA-04", "travel", "Airport lounge pass", "机场贵宾厅通行证", 30000, "diamond", {}, 20),
]

# sku -> extra price plans beyond points only, and a per-member limit
EXTRA_PLANS = {
    "KIT-01": [("points_cash", 1200, 990, None)],
    "BEA-02": [("points_cash", 1000, 990, None)],
    "TRA-01": [("points_cash", 1200, 1200, None)],
    "FRE-01": [("cash_offset", 0, 3990, 30)],
    "DIG-03": [("points_cash", 3800, 2990, None), ("cash_offset", 0, 9900, 30)],
    "HOME-02": [("cash_offset", 0, 2990, 50)],
}
LIMITS = {"VOU-03": 2, "DIG-03": 1, "DIG-04": 1}
# Items that are not goods for pickup (issue 13): each sells a coupon (its CouponSpec,
# mall/wallet/demo.py), so its order is fulfilled into the wallet with no pickup code: VOU-05 a
# 满减 coupon, the store vouchers VOU-01, -02 and -04 money off (¥10, ¥50, ¥200, no minimum),
# usable at the till or in the mall. VOU-03, a free coffee, stays goods handed over at the
# counter: a wallet coupon takes money off a purchase, none gives an item away.
KINDS = {"VOU-01": "coupon", "VOU-02": "coupon", "VOU-04": "coupon", "VOU-05": "coupon"}

# login, display name, role, note
PEOPLE = [
    ("silver@example.com", "Lin Xiao", Role.MEMBER, "Silver member, points expiring soon"),
    ("13800000002", "Wang Fang", Role.MEMBER, "Gold member (log in with this mobile number)"),
    ("diamond@example.com", "Chen Jing", Role.MEMBER, "Diamond member"),
    ("new@example.com", "Zhao Lei", Role.MEMBER, "New member, no points yet"),
    ("frozen@example.com", "Sun Hao", Role.MEMBER, "Frozen account (login is refused with the reason)"),
    ("merch@example.com", "Merchandiser", Role.MERCHANDISER, "Catalogue console"),
    ("staff@example.com", "Store Staff", Role.STORE_STAFF, "Store counter"),
    ("hq@example.com", "HQ Operator", Role.HQ, "Programme dashboard"),
]

# login -> purchases as (days ago, spend in minor units), plus redemptions (days ago, skus, points
# of each). A purchase is a till's receipt with lines (RECEIPT_MIXES) at one of the stores in
# turn, so HQ's dashboard has categories, stores and regions to show on the first run.
HISTORY = {
    "silver@example.com": {"buy": [(400, 38_000), (340, 120_000), (120, 56_000), (30, 18_800), (3, 9_900)],
                         "redeem": [(60, ("VOU-03",), 600)]},
    "13800000002": {"buy": [(330, 160_000), (200, 210_000), (90, 150_000), (20, 88_000)],
                    "redeem": [(70, ("KIT-01",), 2200), (10, ("VOU-01",), 1000)]},
    "diamond@example.com": {"buy": [(700, 900_000), (300, 800_000), (150, 950_000), (40, 1_200_000), (5, 120_000)],
                          "redeem": [(100, ("DIG-02",), 18800), (15, ("VOU-02",), 4800),
                                     (12, ("BEA-02", "TRA-02", "FRE-02"), None)]},
    "frozen@example.com": {"buy": [(50, 30_000)], "redeem": []},
}

STORES = [  # code, name, name_zh, region: the first is the demo store (staff, API key, pickups)
    ("SH-012", "Store 12, Xuhui", "徐汇 12 号店", "Shanghai"),
    ("BJ-003", "Store 3, Chaoyang", "朝阳 3 号店", "Beijing"),
]

# The merchant's own purchase categories (console: Purchase categories): lines outside the
# catalogue; gift cards never earn.
PURCHASE_CATEGORIES = [("gift-cards", "Gift cards", "礼品卡", True), ("services", "Services", "服务", False)]

# Receipts' lines, in turn: (category, share of the receipt in percent); the last line takes
# what is left, so the lines add up to the receipt exactly and the tiers stay as they were.
RECEIPT_MIXES = [
    (("fresh", 40), ("kitchen", 35), ("home", 25)),
    (("beauty", 60), ("digital", 40)),
    (("kids", 45), ("fresh", 30), ("travel", 25)),
    (("digital", 60), ("services", 25), ("gift-cards", 15)),
    (("home", 50), ("beauty", 30), ("fresh", 20)),
]


def load_demo(now: datetime) -> list[tuple[str, str, str]]:
    tiers = _tiers()
    stores = _stores()
    store = stores[0]
    categories = _categories()
    _purchase_categories()
    items = {sku: _item(sku, *rest, categories=categories, tiers=tiers, now=now)
             for sku, *rest in ITEMS}
    logins = []
    for login, name, role, note in PEOPLE:
        user = accounts.find_by_identifier(login) or accounts.register(
            login, DEMO_PASSWORD, name, now=now - timedelta(days=800), role=role.value)
        _history(user, HISTORY.get(login), items, stores, now)
        logins.append((role.value, login, note))
    frozen = accounts.find_by_identifier("frozen@example.com")
    if not frozen.is_frozen:
        accounts.freeze(frozen.id, "suspected points farming, under review", now=now)
    _instore(store, items, now)
    _substitutes_and_presale(items, now)
    from .wallet.demo import load_wallet_demo  # coupons: one bought with points, one from HQ
    logins += load_wallet_demo(now, {sku: item.id for sku, item in items.items() if sku in KINDS})
    _buy_coupon(items["VOU-05"], now)
    from .bookings.demo import load_kinds_demo  # a home service with slots, a priority-purchase right
    load_kinds_demo(now)
    from .engagement.demo import load_engagement_demo  # earning rules, tasks, reminders
    logins += load_engagement_demo(now, DEMO_PASSWORD)
    from .redpackets.demo import load_redpackets_demo  # a red-packet campaign with a share link
    load_redpackets_demo(now)
    from .games.demo import load_games_demo  # a blind box and a spin wheel
    load_games_demo(now, accounts.find_by_identifier("merch@example.com").id)
    db.session.flush()
    return logins


def _tiers() -> dict[str, Tier]:
    found = {t.code: t for t in db.session.scalars(select(Tier))}
    for code, name, name_zh, rank, threshold, mult, months in TIERS:
        if code not in found:
            found[code] = Tier(code=code, name=name, name_zh=name_zh, rank=rank, threshold_minor=threshold,
                               multiplier_pct=mult, validity_months=months)
            db.session.add(found[code])
    db.session.flush()
    return found


def _stores() -> list[Store]:
    found = {s.code: s for s in db.session.scalars(select(Store))}
    for code, name, name_zh, region in STORES:
        if code not in found:
            found[code] = Store(code=code, name=name, name_zh=name_zh, region=region)
            db.session.add(found[code])
    db.session.flush()
    return [found[code] for code, *_ in STORES]


def _purchase_categories() -> None:
    known = set(db.session.scalars(select(PurchaseCategory.slug)))
    for slug, name, name_zh, excluded in PURCHASE_CATEGORIES:
        if slug not in known:
            save_purchase_category(slug, name, name_zh=name_zh, excluded=excluded)


def _receipt_lines(n: int, amount: int, items: dict[str, Item]) -> list[LineInput]:
    """The n-th demo receipt's lines: RECEIPT_MIXES in turn, one catalogue item per line (a
    merchant category's line is named after it)."""
    mix = RECEIPT_MIXES[n % len(RECEIPT_MIXES)]
    lines, left = [], amount
    for position, (category, pct) in enumerate(mix):
        part = left if position == len(mix) - 1 else amount * pct // 100
        left -= part
        item = next((i for i in items.values() if i.category.slug == category), None)
        lines.append(LineInput(part, category=category, sku=item.sku if item else category.upper()[:12],
                               name=item.name if item else category.title()))
    return lines


def _categories() -> dict[str, Category]:
    found = {c.slug: c for c in db.session.scalars(select(Category))}
    for position, (slug, name, name_zh) in enumerate(CATEGORIES):
        if slug not in found:
            found[slug] = Category(slug=slug, name=name, name_zh=name_zh, position=position)
            db.session.add(found[slug])
    db.session.flush()
    return found


def _item(sku, category, name, name_zh, points, min_tier, tier_prices, stock, *, categories, tiers, now):
    item = db.session.scalar(select(Item).where(Item.sku == sku))
    if item is not None:
        item.kind = KINDS.get(sku, item.kind)  # a database from before reward kinds
        return item
    item = Item(sku=sku, name=name, name_zh=name_zh, category=categories[category],
                description=f"{name}. A member favourite, redeemable with points at any store.",
                description_zh=f"{name_zh}。会员热门奖品，可在任意门店用积分兑换。",
                image=DEMO_ART.format(sku=sku.lower()), points_price=points,
                min_tier=tiers[min_tier] if min_tier else None, published=True, created_at=now,
                kind=KINDS.get(sku, "goods"))
    item.tier_prices = [ItemTierPrice(tier_id=tiers[t].id, points=p) for t, p in tier_prices.items()]
    item.plans = [PricePlan(kind="points", position=0)] + [
        PricePlan(kind=kind, points=pts, cash_minor=cash, max_offset_pct=pct, position=n + 1)
        for n, (kind, pts, cash, pct) in enumerate(EXTRA_PLANS.get(sku, []))]
    item.per_member_limit = LIMITS.get(sku)
    db.session.add(item)
    db.session.flush()
    db.session.add(StockLevel(item_id=item.id, received=0, low_stock_threshold=5))
    if stock:
        receive_stock(item.id, stock, reference="DEMO-OPENING", reason="opening stock", now=now)
    return item


def _history(user: User, history: dict | None, items: dict[str, Item], stores: list[Store], now: datetime) -> None:
    already = db.session.scalar(select(LedgerEntry.id).where(
        LedgerEntry.member_id == user.id, LedgerEntry.source.in_(("demo", "receipt"))).limit(1))
    if not history or already:
        return
    events = [(d, "buy", amount) for d, amount in history["buy"]]
    events += [(d, "redeem", (skus, pts)) for d, skus, pts in history["redeem"]]
    for n, (days_ago, kind, what) in enumerate(sorted(events, key=lambda e: -e[0])):
        at = now - timedelta(days=days_ago, hours=3)
        # Sweep what had expired by then, and release what had passed its return window, as
        # the jobs would have; the last days' purchases stay pending (shown on the home page).
        expire_member_points(user.id, at)
        release_member_pending(user.id, at)
        if kind == "buy":  # a till's receipt with lines, credited by the rules per line
            earn_for_member(stores[days_ago % len(stores)].id, f"R{days_ago:04d}-{user.id:03d}", what, user.id,
                            now=at, code_hours=24, minor_per_point=100,
                            lines=_receipt_lines(n + user.id, what, items))
        else:
            _redeem(user, [items[sku] for sku in what[0]], what[1], days_ago, at)
    expire_member_points(user.id, now)
    release_member_pending(user.id, now)


def _redeem(user: User, chosen: list[Item], points: int | None, days_ago: int, at: datetime) -> None:
    """One redemption of `chosen` items (at `points`, or their list prices), for HQ by category:
    one category is named on the entry, several are split into shares as an order's are."""
    prices = [points] if points is not None and len(chosen) == 1 else [i.points_price for i in chosen]
    by_category: dict[str, int] = {}
    for item, price in zip(chosen, prices):
        by_category[item.category.slug] = by_category.get(item.category.slug, 0) + price
    detail = {"item": ", ".join(i.name for i in chosen), "item_zh": ", ".join(i.name_zh or i.name for i in chosen)}
    if len(by_category) == 1:
        detail["category"] = next(iter(by_category))
    entry = spend_points(user.id, sum(prices), reason="redeem", source="demo",
                         key=f"{user.member_code}:redeem:{days_ago}", now=at, reference=f"DEMO-{days_ago:04d}",
                         detail=detail)
    if len(by_category) > 1:
        record_category_shares(entry, {c: (-p, 0) for c, p in by_category.items()})


# In store (issue 5): the staff account works at the demo store, the Gold member has two
# orders waiting there (one paid in points, one with ¥9.90 to pay at the counter), and the
# store has a POS API key whose secret is published here, for the curl examples in docs/instore.md.
DEMO_API_KEY = "pm_live_demo0001_try-the-pos-api-with-this-demo-key"


def _instore(store: Store, items: dict[str, Item], now: datetime) -> None:
    from .checkout.orders import confirm_at_counter, place_order
    from .checkout.quotes import LineRequest
    from .instore.codes import api_key_hash
    from .instore.models import ApiKey, StoreStaff
    staff = accounts.find_by_identifier("staff@example.com")
    if db.session.scalar(select(StoreStaff.id).where(StoreStaff.user_id == staff.id)) is None:
        db.session.add(StoreStaff(user_id=staff.id, store_id=store.id))
    if db.session.scalar(select(ApiKey.id).where(ApiKey.prefix == "demo0001")) is None:
        db.session.add(ApiKey(store_id=store.id, name="Demo till", prefix="demo0001",
                              key_hash=api_key_hash(DEMO_API_KEY), created_at=now))
    gold = accounts.find_by_identifier("13800000002")
    cable, tumbler = items["DIG-01"], items["KIT-01"]  # goods: the store vouchers are wallet coupons
    # Fixed idempotency keys: a second run finds these orders instead of placing new ones.
    place_order(gold.id, [LineRequest(cable.id, cable.plans[0].id, 1)], key="demo-pickup-points",
                now=now, hold_minutes=10, card_payments=False, points_per_unit=100)
    plan = next(p for p in tumbler.plans if p.kind == "points_cash")
    cash_order = place_order(gold.id, [LineRequest(tumbler.id, plan.id, 1)], key="demo-pickup-cash",
                             now=now, hold_minutes=10, card_payments=False, points_per_unit=100)
    if cash_order.status == "awaiting_payment":
        confirm_at_counter(cash_order.id, gold.id, now)


def _buy_coupon(coupon: Item, now: datetime) -> None:
    """diamond@example.com redeems points for the 满减 coupon: the order issues it to their
    wallet (wallet.receivers). A fixed key: a second run finds the order."""
    from .checkout.orders import place_order
    from .checkout.quotes import LineRequest
    diamond = accounts.find_by_identifier("diamond@example.com")
    place_order(diamond.id, [LineRequest(coupon.id, coupon.plans[0].id, 1)], key="demo-wallet-coupon",
                now=now - timedelta(hours=3), hold_minutes=10, card_payments=False, points_per_unit=100)


# Substitutes and presale (issue 4): the sold-out rice bowls offer two kitchen alternatives,
# and the sold-out hairy crab box is open for pre-orders, with substitutes for a shortfall.
DEMO_SUBSTITUTES = {"KIT-02": ["KIT-01", "FRE-02"], "FRE-04": ["FRE-03", "FRE-01"]}


def _substitutes_and_presale(items: dict[str, Item], now: datetime) -> None:
    from .catalog.management import substitutes
    from .catalog.substitutes import set_substitutes
    from .presale.services import presale_for, save_presale
    for sku, subs in DEMO_SUBSTITUTES.items():
        if not substitutes(items[sku].id):
            set_substitutes(items[sku].id, [items[s].id for s in subs], actor_id=None, now=now)
    crab = items["FRE-04"]
    if presale_for(crab.id) is None:
        save_presale(crab.id, opens_at=now - timedelta(days=1), closes_at=now + timedelta(days=14), cap=20,
                     ships_on=(now + timedelta(days=21)).date(), offer_hours=72, now=now)
