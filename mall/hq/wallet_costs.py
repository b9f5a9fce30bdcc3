"""The cost and liability of coupons and red packets, beside points on the HQ dashboard.

Figures over the dashboard's filters (period, store, region, category), in minor units:
- issued: the face value of wallet items issued in the period (a red packet's amount, a
  coupon's value, a percent coupon's cap; free delivery and uncapped percent coupons count 0);
- claimed: red packets claimed from campaigns in the period (a subset of issued);
- used: the discount actually given by items spent in the period (what they cost);
- expired: the face value of items whose validity ended in the period unused (expired by the
  job, or past their end and not yet marked);
- outstanding: the face value of every item still usable now, whatever the period (as the
  points' outstanding figure): it is part of the programme's liability;
- campaign budget not yet claimed: what open red-packet campaigns still hold (a commitment,
  not a liability: no member holds it yet).
Store: where an item was spent, else the store it is limited to (a store campaign's red
packets), else "HQ and online". Category: the first of a coupon's eligible categories (a red
packet, or a coupon for every category: none), grouped by its slug and shown by its name in the
reader's language (names.py); the category filter takes the slug, as the points
figures do, so "fresh" narrows points and coupons alike. Campaign: a red packet's campaign, a coupon's
name, grouped by the English name and shown by its Chinese one (name_zh) to a zh reader (read
in the same GROUP BY; stores are named from the rows read for them, as the points side does). The wallet table is read live (indexed by state and expiry); each chart is one GROUP BY.
"""
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import case, func, literal, or_, select, union_all

from ..catalog.models import Category
from ..extensions import db
from ..instore.models import Store
from ..redpackets.models import RedPacketCampaign, RedPacketClaim
from ..wallet.models import WalletItem, coupon_spec_categories
from .analytics import Chart, Filters, _as_date, _bucket, business_tz, day_start_utc
from .names import Names, hq_names

EVENTS = ("issued", "used", "expired")
ONLINE = 0


class MoneyChart(Chart):
    """A chart whose values are money: charted in major units, shown and exported as money."""

    def chart_data(self) -> dict:
        return {"type": self.kind, "labels": [str(r[0]) for r in self.rows],
                "series": [{"label": str(c), "data": [round(r[i + 1] / 100, 2) for r in self.rows]}
                           for i, c in enumerate(self.columns[1:])]}


@dataclass
class WalletCosts:
    issued_minor: int = 0
    claimed_minor: int = 0
    claimed_count: int = 0
    used_minor: int = 0
    expired_minor: int = 0
    outstanding_minor: int = 0
    outstanding_count: int = 0
    unclaimed_budget_minor: int = 0
    charts: dict = field(default_factory=dict)


def _face():
    return func.coalesce(WalletItem.value_minor, WalletItem.cap_minor, 0)


def _day(col):
    if db.engine.dialect.name == "postgresql":
        return func.date(func.timezone(str(business_tz()), col))
    offset = datetime.now(business_tz()).utcoffset() or timedelta(0)
    return func.date(col, f"{int(offset.total_seconds())} seconds")


def _category():
    # One subquery that names wallet_items, so it correlates with the row (a nested min()
    # subquery didn't: it took every spec's first category, and every item was "Fresh food").
    # The slug, as the points side (ledger_daily.category) and the filter hold it; the chart
    # names it after grouping, in the reader's language ("" is no category).
    first = (select(Category.slug)
             .join(coupon_spec_categories, coupon_spec_categories.c.category_id == Category.id)
             .where(coupon_spec_categories.c.spec_id == WalletItem.spec_id)
             .order_by(Category.id).limit(1).scalar_subquery())
    return func.coalesce(first, "")


def _campaign_of(column):
    return select(column).join(RedPacketClaim, RedPacketClaim.campaign_id == RedPacketCampaign.id) \
        .where(RedPacketClaim.wallet_item_id == WalletItem.id).scalar_subquery()


def _campaign():
    return func.coalesce(_campaign_of(RedPacketCampaign.name), WalletItem.name)


def _campaign_zh():
    # The Chinese name of the same thing _campaign() names: a claimed red packet's campaign
    # (never the packet's own generic "红包"), else the item's.
    claimed = select(RedPacketClaim.id).where(RedPacketClaim.wallet_item_id == WalletItem.id).exists()
    return case((claimed, _campaign_of(RedPacketCampaign.name_zh)), else_=WalletItem.name_zh)


def _facts(f: Filters, now: datetime):
    """(event, day, kind, store_id, category, campaign, value) for each item event in the period."""
    start = day_start_utc(f.start) if f.start else None
    end = day_start_utc(f.end + timedelta(days=1))
    store = func.coalesce(WalletItem.redeemed_store_id, WalletItem.store_id, ONLINE)
    expired_at = WalletItem.expires_at
    category = _category()
    parts = []
    for event, at, value, where in (
            ("issued", WalletItem.issued_at, _face(), []),
            ("used", WalletItem.used_at, func.coalesce(WalletItem.discount_minor, 0), [WalletItem.state == "used"]),
            ("expired", expired_at, _face(),
             [or_(WalletItem.state == "expired", (WalletItem.state == "available") & (expired_at <= now))])):
        q = select(literal(event).label("event"), _day(at).label("day"), WalletItem.kind.label("kind"),
                   store.label("store_id"), category.label("category"),
                   _campaign().label("campaign"), _campaign_zh().label("campaign_zh"),
                   value.label("value")).where(at < end, *where)
        if start is not None:
            q = q.where(at >= start)
        if f.store_id is not None:
            q = q.where(store == f.store_id)
        if f.region:
            q = q.where(store.in_(select(Store.id).where(Store.region == f.region)))
        if f.category is not None:
            wanted = "" if f.category == "-" else f.category
            q = q.where(category == wanted)
        parts.append(q)
    return union_all(*parts).subquery("wallet_facts")


def _pivot(rows, labels_of) -> list:
    """[(key, event, value)] -> [[label, issued, used, expired]], biggest issued first."""
    table: dict = {}
    for key, event, value in rows:
        table.setdefault(labels_of(key), {e: 0 for e in EVENTS})[event] += int(value or 0)
    return sorted(([k, v["issued"], v["used"], v["expired"]] for k, v in table.items()), key=lambda r: -r[1])


def wallet_costs(f: Filters, now: datetime, labels: dict, names: Names | None = None) -> WalletCosts:
    """`names` names categories and stores (the dashboard's; else read here, in English)."""
    names = names if names is not None else hq_names(chinese=False)
    facts = _facts(f, now)
    c = facts.c

    def by(column):
        return db.session.execute(select(column, c.event, func.sum(c.value)).group_by(column, c.event)).all()

    totals = {e: 0 for e in EVENTS}
    for event, value in db.session.execute(select(c.event, func.sum(c.value)).group_by(c.event)):
        totals[event] = int(value or 0)
    stores = {s.id: s for s in db.session.scalars(select(Store))}
    cols = [labels["w_issued"], labels["w_used"], labels["w_expired"]]
    trend: dict = {}
    for day, event, value in by(c.day):
        bucket = _bucket(_as_date(day), f.grain)
        trend.setdefault(bucket, {e: 0 for e in EVENTS})[event] += int(value or 0)
    trend_rows = [[d.isoformat(), v["issued"], v["used"], v["expired"]] for d, v in sorted(trend.items())]
    store_rows = _pivot(by(c.store_id), lambda s: names.store(stores[s]) if s in stores else labels["online"])
    region_rows = _pivot(by(c.store_id), lambda s: (stores[s].region or labels["no_region"]) if s in stores
                         else labels["online"])
    kind_rows = _pivot(by(c.kind), lambda k: labels["red_packet"] if k == "red_packet" else labels["coupon"])
    money = (1, 2, 3)
    charts = {
        "wallet_trend": MoneyChart("wallet_trend", labels["w_trend"], [labels["period"], *cols], trend_rows,
                                   kind="line", money_columns=money),
        "wallet_kind": MoneyChart("wallet_kind", labels["w_by_kind"], [labels["w_kind"], *cols], kind_rows,
                                  money_columns=money),
        "wallet_store": MoneyChart("wallet_store", labels["w_by_store"], [labels["store"], *cols], store_rows,
                                   money_columns=money),
        "wallet_region": MoneyChart("wallet_region", labels["w_by_region"], [labels["region"], *cols], region_rows,
                                    money_columns=money),
        "wallet_campaign": MoneyChart("wallet_campaign", labels["w_by_campaign"], [labels["w_campaign"], *cols],
                                      _campaign_rows(c, names), money_columns=money),
        "wallet_category": MoneyChart("wallet_category", labels["w_by_category"], [labels["category"], *cols],
                                      _pivot(by(c.category), lambda k: names(k) if k else labels["no_category"]),
                                      money_columns=money),
    }
    claimed = _claimed(f)
    outstanding = db.session.execute(select(func.coalesce(func.sum(_face()), 0), func.count()).where(
        WalletItem.state == "available", WalletItem.expires_at > now)).one()
    unclaimed = db.session.scalar(select(func.coalesce(func.sum(RedPacketCampaign.remaining_minor), 0)).where(
        RedPacketCampaign.status == "open", RedPacketCampaign.ends_at > now))
    return WalletCosts(issued_minor=totals["issued"], used_minor=totals["used"], expired_minor=totals["expired"],
                       claimed_minor=claimed[0], claimed_count=claimed[1], outstanding_minor=int(outstanding[0]),
                       outstanding_count=int(outstanding[1]), unclaimed_budget_minor=int(unclaimed), charts=charts)


def _campaign_rows(c, names: Names) -> list:
    """Campaign rows, grouped by the English name (stable) and named in the reader's language."""
    rows = db.session.execute(select(c.campaign, func.max(c.campaign_zh), c.event, func.sum(c.value))
                              .group_by(c.campaign, c.event)).all()
    zh = {name: name_zh for name, name_zh, _event, _value in rows if name_zh}
    return _pivot([(name, event, value) for name, _zh, event, value in rows],
                  lambda name: names.pick(str(name), zh.get(name)))


def _claimed(f: Filters) -> tuple[int, int]:
    q = select(func.coalesce(func.sum(RedPacketClaim.amount_minor), 0), func.count(RedPacketClaim.id)) \
        .join(RedPacketCampaign, RedPacketCampaign.id == RedPacketClaim.campaign_id) \
        .where(RedPacketClaim.claimed_at < day_start_utc(f.end + timedelta(days=1)))
    if f.start is not None:
        q = q.where(RedPacketClaim.claimed_at >= day_start_utc(f.start))
    store = func.coalesce(RedPacketCampaign.store_id, ONLINE)
    if f.store_id is not None:
        q = q.where(store == f.store_id)
    if f.region:
        q = q.where(store.in_(select(Store.id).where(Store.region == f.region)))
    if f.category not in (None, "-"):
        q = q.where(literal(False))  # red packets have no category
    total, count = db.session.execute(q).one()
    return int(total), int(count)


def outstanding_minor(now: datetime) -> int:
    """The face value of every wallet item still usable (part of the liability)."""
    return int(db.session.scalar(select(func.coalesce(func.sum(_face()), 0)).where(
        WalletItem.state == "available", WalletItem.expires_at > now)))
