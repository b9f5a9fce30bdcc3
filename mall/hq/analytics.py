"""The cost dashboard's figures: points issued, redeemed, expired and outstanding, liability,
cost by store, region, category and rule, redemption rate, breakage and trends.

Why it stays fast with millions of ledger lines: closed days are summed once into
`ledger_daily` (day x store x kind x rule x category), and only the open day is read live from
the ledger (by its created_at index). `roll_up` is idempotent and locks its state row, so
two workers never add a day twice; the dashboard calls it first, so figures are always
current. Days are business days in BABEL_DEFAULT_TIMEZONE (Asia/Shanghai by default).

Definitions (the dashboard's "how these are computed" note says the same):
- issued: points credited (earn entries: every earning source, purchases, bonuses, tasks,
  grants, game prizes, credits the ledger as "earn"); redeemed: spent minus refunded; expired:
  expiry entries; taken back: points taken back from refunded purchases (adjust entries);
  outstanding: every member's balance now (not filtered). Over the whole history, issued −
  taken back − redeemed − expired = outstanding;
- liability: outstanding x the configured point value (MALL_POINT_VALUE_MINOR_PER_100);
- cost: points issued x that value;
- redeemed ÷ issued and expired ÷ issued, both over the chosen period: flows of the same
  period, not a cohort. Members redeem points issued months before, and points expire 12 to 24
  months after they were issued, so over a short period either may exceed 100% (the demo's last
  30 days redeemed 13,900 points and issued 2,985: 466%). The dashboard says so beside the
  figure, with the least number of points redeemed that the period cannot have issued
  (redeemed − issued), and labels them as period ratios, not as "the share of points ever
  redeemed". A cohort rate (of the points issued in a period, how many were redeemed) would
  need every lot's movements, which the daily rollup does not keep.
- rule: the campaign code an entry names (detail.campaign), else its reason code;
  category: an entry spanning several categories (a purchase with lines of fresh food and
  kitchen, an order of items from two categories) counts in each by its category shares
  (ledger_entry_categories); otherwise the category it names (detail.category), or for a
  refund of points the category of the spend it reverses; else none. Facts and the filter
  keep the category's slug; charts, tables and CSV show its name (names.py), as they
  name stores, rules and reasons and programme budgets in the reader's language.
- cost by budget: the discretionary points charged to each budget (a store's or a programme
  budget), issued or approved over budget, from the grants (base points for spend are the
  programme's cost of sales and are charged to no budget).
"""
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import String, cast, func, insert, literal, null, select, tuple_, union_all
from sqlalchemy.orm import aliased

from .. import shoptime
from ..extensions import db
from ..instore.models import Store
from ..budgets.models import BudgetMonth, DiscretionaryGrant, ProgrammeBudget, StoreBudget
from ..budgets.services import month_of
from ..points.models import EntryCategoryShare, LedgerEntry, PointsAccount
from ..replica import analytics_engine, analytics_session as reads
from ..settings import current as current_settings
from .names import Names, hq_names, name_selects
from .models import HqAlert, LedgerDaily, RollupState

PERIODS = {"30d": 30, "90d": 90, "365d": 365, "all": None}
GRAINS = ("day", "week", "month")
NO_STORE = 0
IN_FACTS = "facts"  # filter_choices' rows of a category the facts hold (no name)


def _zone_name() -> str:
    return current_settings().timezone


def business_tz() -> ZoneInfo:
    return shoptime.shop_zone(_zone_name())


def local_day(at: datetime) -> date:
    return shoptime.local_day(at, _zone_name())


def day_start_utc(day: date) -> datetime:
    return shoptime.day_start_utc(day, _zone_name())


def point_value_minor(points: int) -> int:
    """Money value of `points`, in minor units, floored."""
    return points * current_settings().point_value_minor_per_100 // 100


def _day_expr():
    """The business day of a ledger entry, in SQL."""
    col = LedgerEntry.created_at
    if db.engine.dialect.name == "postgresql":
        return func.date(func.timezone(str(business_tz()), col))
    # SQLite keeps naive UTC text: shift by the zone's offset (fixed for Asia/Shanghai).
    offset = datetime.now(business_tz()).utcoffset() or timedelta(0)
    return func.date(col, f"{int(offset.total_seconds())} seconds")


def _rule_expr():
    return func.coalesce(LedgerEntry.detail["campaign"].as_string(), LedgerEntry.reason)


_Reversed = aliased(LedgerEntry)


def _category_expr():
    return func.coalesce(EntryCategoryShare.category, LedgerEntry.detail["category"].as_string(),
                         _Reversed.detail["category"].as_string(), "")


def _points_expr():
    return func.coalesce(EntryCategoryShare.points, LedgerEntry.points)


def _spend_expr():
    return func.coalesce(EntryCategoryShare.spend_minor, LedgerEntry.spend_minor)


def _with_shares(query):
    """Ledger entries, each split into its category shares when it has them."""
    return query.select_from(LedgerEntry) \
        .outerjoin(EntryCategoryShare, EntryCategoryShare.entry_id == LedgerEntry.id) \
        .outerjoin(_Reversed, _Reversed.id == LedgerEntry.reverses_id)


def _entry_columns():
    return [_day_expr().label("day"), func.coalesce(LedgerEntry.store_id, NO_STORE).label("store_id"),
            LedgerEntry.kind.label("kind"), _rule_expr().label("rule"), _category_expr().label("category")]


def roll_up(now: datetime, *, rebuild: bool = False) -> date | None:
    """Sum every closed day not yet rolled up into ledger_daily. Returns the last day rolled."""
    last_closed = local_day(now) - timedelta(days=1)
    through = db.session.scalar(select(RollupState.through_day).where(RollupState.name == "ledger"))
    if not rebuild and through is not None and through >= last_closed:
        return through  # the usual case: nothing to do, and no lock taken
    state = db.session.execute(select(RollupState).where(RollupState.name == "ledger")
                               .with_for_update()).scalar_one_or_none()
    if state is None:
        db.session.add(RollupState(name="ledger"))
        db.session.flush()
        state = db.session.execute(select(RollupState).where(RollupState.name == "ledger")
                                   .with_for_update()).scalar_one()
    if rebuild:
        db.session.execute(LedgerDaily.__table__.delete())
        state.through_day = None
    if state.through_day is not None and state.through_day >= last_closed:
        return state.through_day
    where = [LedgerEntry.created_at < day_start_utc(last_closed + timedelta(days=1))]
    if state.through_day is not None:
        where.append(LedgerEntry.created_at >= day_start_utc(state.through_day + timedelta(days=1)))
    cols = _entry_columns()
    summed = _with_shares(select(*cols, func.sum(_points_expr()), func.sum(_spend_expr()), func.count())) \
        .where(*where).group_by(*cols[:5])
    db.session.execute(insert(LedgerDaily).from_select(
        ["day", "store_id", "kind", "rule", "category", "points", "spend_minor", "entries"], summed))
    state.through_day, state.refreshed_at = last_closed, now
    db.session.flush()
    return last_closed


@dataclass(frozen=True)
class Filters:
    period: str = "30d"
    start: date | None = None       # first day included (None: since the beginning)
    end: date | None = None         # last day included
    store_id: int | None = None
    region: str | None = None
    category: str | None = None
    grain: str = "day"

    def args(self, **override) -> dict:
        """Query-string arguments that reproduce these filters (for links and CSV exports)."""
        values = {"period": self.period, "store": self.store_id, "region": self.region,
                  "category": self.category, "grain": self.grain}
        if self.period == "custom":
            values.update({"start": self.start.isoformat() if self.start else None,
                           "end": self.end.isoformat() if self.end else None})
        values.update(override)
        return {k: v for k, v in values.items() if v not in (None, "")}


def make_filters(now: datetime, *, period: str | None, start: date | None = None, end: date | None = None,
                 store_id: int | None = None, region: str | None = None, category: str | None = None,
                 grain: str | None = None) -> Filters:
    today = local_day(now)
    if start or end:
        period = "custom"
        end = min(end or today, today)
        start = start if start and start <= end else None
    else:
        period = period if period in PERIODS else "30d"
        days = PERIODS[period]
        end, start = today, (today - timedelta(days=days - 1) if days else None)
    span = (end - start).days + 1 if start else 9999
    if grain not in GRAINS:
        grain = "day" if span <= 45 else ("week" if span <= 200 else "month")
    return Filters(period=period, start=start, end=end, store_id=store_id, region=region or None,
                   category=category if category is not None and category != "" else None, grain=grain)


def _facts(f: Filters):
    """Ledger facts for the filters: rolled-up closed days plus the live open days."""
    through = reads().scalar(select(RollupState.through_day).where(RollupState.name == "ledger"))
    parts = []
    if through is not None and (f.start is None or f.start <= through):
        rolled = select(LedgerDaily.day, LedgerDaily.store_id, LedgerDaily.kind, LedgerDaily.rule,
                        LedgerDaily.category, LedgerDaily.points, LedgerDaily.spend_minor)
        if f.start is not None:
            rolled = rolled.where(LedgerDaily.day >= f.start)
        rolled = rolled.where(LedgerDaily.day <= min(f.end, through))
        parts.append(_filtered(rolled, LedgerDaily.store_id, LedgerDaily.category, f))
    live_from = max(filter(None, [f.start, through + timedelta(days=1) if through else None]), default=None)
    if live_from is None or live_from <= f.end:
        cols = _entry_columns()
        live = _with_shares(select(*cols, _points_expr().label("points"), _spend_expr().label("spend_minor"))) \
            .where(LedgerEntry.created_at < day_start_utc(f.end + timedelta(days=1)))
        if live_from is not None:
            live = live.where(LedgerEntry.created_at >= day_start_utc(live_from))
        parts.append(_filtered(live, func.coalesce(LedgerEntry.store_id, NO_STORE), _category_expr(), f))
    return (union_all(*parts) if len(parts) > 1 else parts[0]).subquery("facts")


def _filtered(query, store_col, category_col, f: Filters):
    if f.store_id is not None:
        query = query.where(store_col == f.store_id)
    if f.region:
        query = query.where(store_col.in_(select(Store.id).where(Store.region == f.region)))
    if f.category is not None:
        query = query.where(category_col == ("" if f.category == "-" else f.category))
    return query


@dataclass
class Chart:
    key: str
    title: str
    columns: list            # column headings, the first is the label
    rows: list               # [label, value, value, ...]
    kind: str = "bar"        # Chart.js type
    money_columns: tuple = ()

    def chart_data(self) -> dict:
        """What static/js/hq-charts.js hands to Chart.js (read from a data- attribute)."""
        return {"type": self.kind, "labels": [str(r[0]) for r in self.rows],
                "series": [{"label": str(c), "data": [r[i + 1] for r in self.rows]}
                           for i, c in enumerate(self.columns[1:]) if i + 1 not in self.money_columns]}


@dataclass
class Dashboard:
    filters: Filters
    issued: int
    redeemed: int
    expired: int
    outstanding: int
    liability_minor: int
    cost_minor: int
    charts: dict = field(default_factory=dict)
    budgets: list = field(default_factory=list)
    alerts: list = field(default_factory=list)
    wallet: object = None  # coupons and red packets (wallet_costs.WalletCosts), set by the view
    names: Names = field(default_factory=Names)  # what the page names (stores, budgets) in the reader's language
    taken_back: int = 0    # points taken back from refunded purchases (adjust entries), positive

    @property
    def total_liability_minor(self) -> int:
        """Points outstanding at the point value, plus coupons and red packets still usable."""
        return self.liability_minor + (self.wallet.outstanding_minor if self.wallet is not None else 0)

    @property
    def redemption_rate_pct(self) -> float:
        return round(self.redeemed * 100 / self.issued, 1) if self.issued else 0.0

    @property
    def breakage_pct(self) -> float:
        return round(self.expired * 100 / self.issued, 1) if self.issued else 0.0

    @property
    def redeemed_before_period(self) -> int:
        """The fewest of the points redeemed in the period that were issued before it: the
        period issued only `issued`, so the rest of what was redeemed came from earlier."""
        return max(self.redeemed - self.issued, 0)

    @property
    def expired_before_period(self) -> int:
        return max(self.expired - self.issued, 0)


def _bucket(day: date, grain: str) -> date:
    if grain == "week":
        return day - timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    return day


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


@dataclass
class _Sums:
    by_day_kind: list      # (day, kind, points)
    by_store: list         # (store_id, points) of earns, biggest first
    by_category: list
    by_rule: list


def _sums(facts) -> _Sums:
    """All the dashboard's sums from the facts. On PostgreSQL one scan with GROUPING SETS;
    elsewhere (SQLite, the fast tests) one query per dimension, same results."""
    c = facts.c
    if analytics_engine().dialect.name == "postgresql":
        sets = func.grouping_sets(tuple_(c.day, c.kind), tuple_(c.kind, c.store_id), tuple_(c.kind, c.category),
                                  tuple_(c.kind, c.rule))
        rows = reads().execute(
            select(func.grouping(c.day, c.store_id, c.category, c.rule), c.day, c.kind, c.store_id, c.category,
                   c.rule, func.sum(c.points)).group_by(sets)).all()
        out = _Sums([], [], [], [])
        for mask, day, kind, store_id, category, rule, points in rows:
            if mask == 0b0111:
                out.by_day_kind.append((day, kind, points))
            elif kind == "earn":
                target = {0b1011: (out.by_store, store_id), 0b1101: (out.by_category, category),
                          0b1110: (out.by_rule, rule)}[mask]
                target[0].append((target[1], points))
        for dimension in (out.by_store, out.by_category, out.by_rule):
            dimension.sort(key=lambda row: -row[1])
        return out

    def issued_by(column):
        return [(key, points) for key, points in reads().execute(
            select(column, func.sum(c.points)).where(c.kind == "earn").group_by(column)
            .order_by(func.sum(c.points).desc())).all()]
    return _Sums(reads().execute(select(c.day, c.kind, func.sum(c.points)).group_by(c.day, c.kind)).all(),
                 issued_by(c.store_id), issued_by(c.category), issued_by(c.rule))


def trend_chart(f: Filters, rows, labels) -> tuple[Chart, dict]:
    buckets: dict[date, dict] = {}
    totals = {"earn": 0, "spend": 0, "refund": 0, "expire": 0, "adjust": 0}
    for day, kind, points in rows:
        b = buckets.setdefault(_bucket(_as_date(day), f.grain), {"earn": 0, "spend": 0, "refund": 0, "expire": 0})
        if kind in b:
            b[kind] += int(points)
        totals[kind] = totals.get(kind, 0) + int(points)
    chart_rows = [[day.isoformat(), b["earn"], -b["spend"] - b["refund"], -b["expire"]]
                  for day, b in sorted(buckets.items())]
    chart = Chart("trend", labels["trend"], [labels["period"], labels["issued"], labels["redeemed"], labels["expired"]],
                  chart_rows, kind="line")
    return chart, totals


def dashboard(f: Filters, now: datetime, labels: dict, names: Names | None = None) -> Dashboard:
    """Every figure and chart of the dashboard for the filters, in a handful of queries.
    `names` names categories, stores, rules and budgets (filter_choices' names; else read here, in English)."""
    names = names if names is not None else hq_names(chinese=False)
    roll_up(now)
    sums = _sums(_facts(f))
    trend, totals = trend_chart(f, sums.by_day_kind, labels)
    issued = totals["earn"]
    stores = {s.id: s for s in reads().scalars(select(Store))}
    store_rows, region_totals = [], {}
    for store_id, points in sums.by_store:
        store = stores.get(store_id)
        name = names.store(store) if store else labels["online"]
        store_rows.append([name, int(points), point_value_minor(int(points))])
        region = (store.region or labels["no_region"]) if store else labels["online"]
        region_totals[region] = region_totals.get(region, 0) + int(points)
    region_rows = [[r, p, point_value_minor(p)] for r, p in sorted(region_totals.items(), key=lambda kv: -kv[1])]
    category_rows = [[names(c) if c else labels["no_category"], int(p), point_value_minor(int(p))]
                     for c, p in sums.by_category]
    rule_rows = [[names.rule(r), int(p), point_value_minor(int(p))] for r, p in sums.by_rule]
    base = base_points(f)
    budget_rows = [[labels["base_points"], base, point_value_minor(base)]] + \
        [[name, p, point_value_minor(p)] for name, p in cost_by_budget(f, stores, names)]
    cols = [labels["points"], labels["cost"]]
    charts = {
        "trend": trend,
        "store": Chart("store", labels["by_store"], [labels["store"], *cols], store_rows, money_columns=(2,)),
        "region": Chart("region", labels["by_region"], [labels["region"], *cols], region_rows, money_columns=(2,)),
        "category": Chart("category", labels["by_category"], [labels["category"], *cols], category_rows,
                          money_columns=(2,)),
        "rule": Chart("rule", labels["by_rule"], [labels["rule"], *cols], rule_rows, money_columns=(2,)),
        # Coupons and red packets charge their budgets the points their face value is worth:
        # "points charged", not "points issued" (they are not in the points issued).
        "budget": Chart("budget", labels["by_budget"], [labels["budget"], labels["points_charged"], labels["cost"]],
                        budget_rows, money_columns=(2,)),
    }
    outstanding = int(reads().scalar(select(func.coalesce(func.sum(PointsAccount.balance), 0))))
    return Dashboard(filters=f, issued=issued, redeemed=-totals["spend"] - totals["refund"],
                     expired=-totals["expire"], taken_back=-totals["adjust"], outstanding=outstanding,
                     liability_minor=point_value_minor(outstanding), cost_minor=point_value_minor(issued),
                     charts=charts, budgets=budget_status(now, names) + programme_budget_status(now, names),
                     alerts=recent_alerts(), names=names)


def cost_by_budget(f: Filters, stores: dict, names: Names) -> list[tuple[str, int]]:
    """Discretionary points charged per budget over the filters' days (issued, or approved
    over the budget; less what refunds gave back), biggest first. The grants table is small: read live."""
    where = [DiscretionaryGrant.status.in_(("issued", "approved", "reversed")),
             DiscretionaryGrant.created_at < day_start_utc(f.end + timedelta(days=1))]
    if f.start is not None:
        where.append(DiscretionaryGrant.created_at >= day_start_utc(f.start))
    if f.store_id is not None:
        where.append(DiscretionaryGrant.store_id == f.store_id)
    if f.region:
        where.append(DiscretionaryGrant.store_id.in_(select(Store.id).where(Store.region == f.region)))
    rows = reads().execute(
        select(DiscretionaryGrant.store_id, DiscretionaryGrant.programme_budget_id,
               func.sum(DiscretionaryGrant.points - DiscretionaryGrant.reversed_points))
        .where(*where).group_by(DiscretionaryGrant.store_id, DiscretionaryGrant.programme_budget_id)).all()
    programme = {b.id: names.budget(b) for b in reads().scalars(select(ProgrammeBudget))}
    named = [(names.store(stores[s]) if s in stores else programme.get(p, "-"), int(points)) for s, p, points in rows]
    return sorted(named, key=lambda row: -row[1])


def base_points(f: Filters) -> int:
    """Purchase base points issued over the filters' days (store and region filters apply):
    the programme's cost of sales, never charged to a budget (DESIGN.md #9). That is the
    purchase credits less the bonus uplift charged with them (their bonus grants, as charged),
    so the cost-by-budget chart shows base points beside the budgets' discretionary points.
    Read live, like the grants: the index on created_at bounds the scan to the period."""
    def bounded(query, created_at, store_col):
        query = query.where(created_at < day_start_utc(f.end + timedelta(days=1)))
        if f.start is not None:
            query = query.where(created_at >= day_start_utc(f.start))
        if f.store_id is not None:
            query = query.where(store_col == f.store_id)
        if f.region:
            query = query.where(store_col.in_(select(Store.id).where(Store.region == f.region)))
        return query
    credited = reads().scalar(bounded(
        select(func.coalesce(func.sum(LedgerEntry.points), 0))
        .where(LedgerEntry.kind == "earn", LedgerEntry.reason == "purchase"),
        LedgerEntry.created_at, LedgerEntry.store_id))
    uplift = reads().scalar(bounded(
        select(func.coalesce(func.sum(DiscretionaryGrant.points), 0))
        .join(LedgerEntry, LedgerEntry.id == DiscretionaryGrant.entry_id)
        .where(DiscretionaryGrant.kind == "bonus", DiscretionaryGrant.status.in_(("issued", "reversed")),
               LedgerEntry.reason == "purchase"),
        LedgerEntry.created_at, LedgerEntry.store_id))
    return int(credited) - int(uplift)


def filter_choices(*, chinese: bool = False) -> dict:
    """The filters' choices: stores, regions, and the categories the facts name, as (slug, name)
    by name. Also every name the dashboard shows ("names": categories, rules, games; names.py):
    read with the facts' categories in one query, so naming costs the dashboard no query."""
    stores = reads().scalars(select(Store).order_by(Store.name)).all()
    regions = sorted({s.region for s in stores if s.region})
    blank = cast(null(), String)
    in_facts = select(literal(IN_FACTS), LedgerDaily.category, blank, blank).distinct()
    rows = reads().execute(union_all(*name_selects(), in_facts)).all()
    names = Names.from_rows(rows, chinese)
    categories = sorted(((slug, names(slug)) for source, slug, _n, _z in rows if source == IN_FACTS and slug),
                        key=lambda choice: (choice[1].casefold(), choice[0]))
    return {"stores": stores, "regions": regions, "categories": categories, "names": names}


@dataclass(frozen=True)
class BudgetLine:
    store: Store | None           # None: a programme budget
    budget: StoreBudget | ProgrammeBudget
    used: int
    limit: int
    over: int
    names: Names = field(default_factory=Names)  # in the reader's language (English by default)

    @property
    def name(self) -> str:
        return self.names.store(self.store) if self.store is not None else self.names.budget(self.budget)

    @property
    def pct(self) -> int:
        return min(self.used * 100 // self.limit, 100) if self.limit else 0

    @property
    def level(self) -> str:
        return "exhausted" if self.used >= self.limit else ("warning" if self.pct >= 80 else "ok")


def budget_status(now: datetime, names: Names | None = None) -> list[BudgetLine]:
    """Every store budget with this month's usage, fullest first."""
    month = month_of(now)
    usage = aliased(BudgetMonth)
    rows = db.session.execute(
        select(Store, StoreBudget, usage)
        .join(StoreBudget, StoreBudget.store_id == Store.id)
        .outerjoin(usage, (usage.store_id == Store.id) & (usage.month == month))).all()
    lines = [BudgetLine(store, budget, usage_row.used_points if usage_row else 0,
                        usage_row.limit_points if usage_row else budget.monthly_points,
                        usage_row.over_points if usage_row else 0, names or Names())
             for store, budget, usage_row in rows]
    return sorted(lines, key=lambda line: (-line.pct, line.store.name))


def programme_budget_status(now: datetime, names: Names | None = None) -> list[BudgetLine]:
    """Every programme budget (per campaign or task kind) with this month's usage, fullest first."""
    month = month_of(now)
    usage = aliased(BudgetMonth)
    rows = db.session.execute(
        select(ProgrammeBudget, usage)
        .outerjoin(usage, (usage.programme_budget_id == ProgrammeBudget.id) & (usage.month == month))).all()
    lines = [BudgetLine(None, budget, usage_row.used_points if usage_row else 0,
                        usage_row.limit_points if usage_row else budget.monthly_points,
                        usage_row.over_points if usage_row else 0, names or Names())
             for budget, usage_row in rows]
    return sorted(lines, key=lambda line: (-line.pct, line.name))


def recent_alerts(limit: int = 10) -> list:
    """The latest budget alerts as (alert, store, programme budget): one of the two is None."""
    return list(reads().execute(
        select(HqAlert, Store, ProgrammeBudget)
        .outerjoin(Store, Store.id == HqAlert.store_id)
        .outerjoin(ProgrammeBudget, ProgrammeBudget.id == HqAlert.programme_budget_id)
        .order_by(HqAlert.id.desc()).limit(limit)).all())


def csv_rows(chart: Chart) -> list[list]:
    """The chart's table as CSV rows: heading first; money columns in major units."""
    out = [[str(c) for c in chart.columns]]
    for row in chart.rows:
        out.append([f"{v / 100:.2f}" if i in chart.money_columns else v for i, v in enumerate(row)])
    return out

