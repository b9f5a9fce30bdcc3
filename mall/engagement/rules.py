"""Earning rules: which rules apply to a purchase, and how they stack.

THE STACKING RULE (docs/points.md "Earning rules: how they stack"; tests/unit/test_earning_rules.py):

1. base = floor(spend / base rate). A store's own base rate replaces the general one.
2. Multipliers multiply: base × tier multiplier × the ONE best promotion (a time slot such
   as "Wednesday fresh-food day ×2" or a campaign ×1.5, whichever is highest). Promotions
   never compound with each other, so two overlapping campaigns can't run costs away.
3. Bonuses add: the best category bonus adds a percentage of the BASE (+30% of base), not
   multiplied by the tier or the promotion.
4. The cap limits steps 2 + 3 together to a percentage of the base (cap 300 = at most
   3 × base). A store's own cap replaces the general one. No cap rule: no cap.
5. The first-purchase bonus is a flat number of points added last, outside the cap.

Rounding: each step drops fractions (floor), so the programme never issues a point nobody
paid for. Rules scoped to a store, a category or a tier apply only there; a store-scoped
rule of the same kind and target replaces the general one (per-store override).

PER LINE (issue 12). A purchase has lines (SKU, category, amount; a purchase without lines
is one line of its category). Rules are matched per line: a rule scoped to a category or a
SKU applies to those lines only; a rule scoped to a moment (weekdays, hours of the day in
shop time, days of the month, a window, the member's birthday month) or a member (tier,
RFM segment) applies to every line or none. Lines that the same rules apply to are added together and
the stacking rule runs once on their sum (so splitting a receipt into lines loses no point
to rounding unless the lines earn differently); each such group is one part of the
explanation ("¥86 of Fresh food: base 86 × Gold tier 1.2 × Fresh day 2 = 206"). Lines
excluded from earning (gift cards, tobacco) earn nothing and count for nothing. The
first-purchase bonus is added once, last.

A group's points are split over its lines by amount with the one rounding rule for parts
of a whole (mall/proportion.py): rest × weight ÷ rest of the weights, rounded down, the last
part taking what is left. Refunds split a line's points over its units by the same rule.

Everything here is pure: `compute` takes the facts and the rules and returns the points
with the steps that explain them, so the console preview and real earning agree.
"""
from dataclasses import asdict, dataclass, field
from datetime import datetime

from ..proportion import split
from ..shoptime import DEFAULT_ZONE, shop_zone
from .models import RuleKind

PROMOTIONS = (RuleKind.TIME_SLOT.value, RuleKind.CAMPAIGN.value)


@dataclass(frozen=True)
class RuleView:
    """The parts of an EarningRule the arithmetic needs (a row, or a draft in the preview)."""
    rule_key: str
    version: int
    kind: str
    name: str
    name_zh: str | None
    value: int
    tier_code: str | None = None
    category_slug: str | None = None
    store_id: int | None = None
    weekdays: tuple[int, ...] = ()
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    skus: tuple[str, ...] = ()
    minute_from: int | None = None       # shop-local minutes since midnight, [from, to)
    minute_to: int | None = None
    month_days: tuple[int, ...] = ()     # days of the month (member days)
    birthday_month: bool = False         # only in the member's birthday month
    segment: str | None = None           # only members in this RFM segment

    @classmethod
    def of(cls, rule) -> "RuleView":
        return cls(rule_key=rule.rule_key, version=rule.version, kind=rule.kind, name=rule.name,
                   name_zh=rule.name_zh, value=rule.value, tier_code=rule.tier_code,
                   category_slug=rule.category_slug, store_id=rule.store_id,
                   weekdays=tuple(rule.weekday_list), starts_at=rule.starts_at, ends_at=rule.ends_at,
                   skus=tuple(rule.sku_list), minute_from=rule.minute_from, minute_to=rule.minute_to,
                   month_days=tuple(rule.month_day_list), birthday_month=bool(rule.birthday_month),
                   segment=rule.segment)

    @property
    def per_line(self) -> bool:
        return bool(self.category_slug or self.skus)


@dataclass(frozen=True)
class LineFacts:
    """One receipt line as earning sees it (amount net of refunds)."""
    line_no: int
    amount_minor: int
    category: str | None = None
    sku: str = ""
    name: str = ""
    quantity: int = 1
    excluded: bool = False
    category_name: str | None = None
    category_name_zh: str | None = None


@dataclass(frozen=True)
class PurchaseFacts:
    spend_minor: int
    at: datetime                      # UTC; weekdays are judged in `timezone`
    tier_code: str
    tier_name: str
    tier_name_zh: str | None
    tier_multiplier_pct: int          # the tier's own multiplier, unless a rule overrides it
    default_minor_per_point: int      # used when no base-rate rule applies
    store_id: int | None = None
    category: str | None = None
    first_purchase: bool = False
    timezone: str = DEFAULT_ZONE
    lines: tuple[LineFacts, ...] = ()   # empty: one line of `category` for the whole spend
    birthday_month: int | None = None   # the member's birthday month (1-12), if known
    segment: str | None = None          # the member's RFM segment as of the last refresh, if any

    def receipt_lines(self) -> tuple[LineFacts, ...]:
        return self.lines or (LineFacts(1, self.spend_minor, self.category),)


@dataclass
class Step:
    """One line of the explanation. op: "base", "×", "+", "cap"."""
    op: str
    name: str
    name_zh: str | None
    value: int                 # the multiplier in percent, a bonus percent, or flat points
    points: int                # points this step adds (for "×": the running total after it)
    rule_key: str | None = None
    version: int | None = None
    unit: str = "pct"          # "pct" or "points"


@dataclass
class Earning:
    spend_minor: int
    minor_per_point: int
    base: int
    tier_multiplier_pct: int
    points: int
    steps: list[Step] = field(default_factory=list)
    capped: bool = False
    # Points beyond base × tier: promotions, bonuses and the first-purchase bonus. HQ's
    # budgets count these as discretionary points.
    bonus_points: int = 0
    # Per line (issue 12): the groups of lines earning under the same rules, each with its
    # own steps (one group: `steps` are its steps, as before lines existed), the points of
    # each line (they add up to `points`), and the points per category.
    groups: list["LineGroup"] = field(default_factory=list)
    line_points: dict[int, int] = field(default_factory=dict)
    category_points: dict[str, int] = field(default_factory=dict)
    category_spend: dict[str, int] = field(default_factory=dict)
    final_steps: list[Step] = field(default_factory=list)   # after the groups: the first-purchase bonus

    @property
    def campaign(self) -> str | None:
        """The promotion or bonus rule this earn is credited to in HQ's cost-by-rule figures:
        the multiplying promotion if one applied, else the first added bonus."""
        steps = [s for g in self.groups for s in g.steps[2:]] + self.final_steps if self.groups else self.steps[2:]
        named = [s for s in steps if s.rule_key and s.op in ("×", "+")]
        return named[0].name if named else None

    @property
    def categories(self) -> list[str]:
        return list(self.category_spend)

    def facts(self) -> dict:
        facts = {"steps": [asdict(s) for s in self.steps], "minor_per_point": self.minor_per_point,
                 "capped": self.capped, "bonus_points": self.bonus_points,
                 "lines": [{"line_no": no, "points": p} for no, p in self.line_points.items()]}
        if len(self.groups) > 1 or any(g.excluded for g in self.groups):
            facts["groups"] = [g.facts() for g in self.groups]
            facts["final_steps"] = [asdict(s) for s in self.final_steps]
        if self.campaign:
            facts["campaign"] = self.campaign  # read by mall/hq/analytics.py (cost by rule)
        return facts


@dataclass
class LineGroup:
    """Lines earning under the same rules, explained together."""
    line_nos: list[int]
    categories: list[tuple[str, str | None, str | None]]  # (slug, name, name_zh)
    spend_minor: int
    base: int = 0
    points: int = 0
    steps: list[Step] = field(default_factory=list)
    capped: bool = False
    excluded: bool = False

    def facts(self) -> dict:
        return {"lines": self.line_nos, "categories": [list(c) for c in self.categories],
                "spend_minor": self.spend_minor, "base": self.base, "points": self.points,
                "capped": self.capped, "excluded": self.excluded, "steps": [asdict(s) for s in self.steps]}


def _in_window(rule: RuleView, at: datetime) -> bool:
    return (rule.starts_at is None or rule.starts_at <= at) and (rule.ends_at is None or at < rule.ends_at)


def _moment_matches(rule: RuleView, facts: PurchaseFacts) -> bool:
    local = facts.at.astimezone(shop_zone(facts.timezone))
    if rule.weekdays and local.isoweekday() not in rule.weekdays:
        return False
    if rule.minute_from is not None and not rule.minute_from <= local.hour * 60 + local.minute < rule.minute_to:
        return False
    if rule.month_days and local.day not in rule.month_days:
        return False
    if rule.birthday_month and facts.birthday_month != local.month:
        return False
    return True


def applicable(rules: list[RuleView], facts: PurchaseFacts, line: LineFacts | None = None) -> list[RuleView]:
    """Rules whose window, store, tier, segment and moment match the purchase, and whose category and
    SKUs match the line (without a line: the purchase's own category)."""
    category = line.category if line is not None else facts.category
    out = []
    for rule in rules:
        if not _in_window(rule, facts.at):
            continue
        if rule.store_id is not None and rule.store_id != facts.store_id:
            continue
        if rule.category_slug and rule.category_slug != category:
            continue
        if rule.skus and (line is None or line.sku not in rule.skus):
            continue
        if rule.tier_code and rule.tier_code != facts.tier_code:
            continue
        if rule.segment and rule.segment != facts.segment:
            continue
        if not _moment_matches(rule, facts):
            continue
        out.append(rule)
    return out


def _most_specific(rules: list[RuleView], kind: str) -> RuleView | None:
    """A store's own rule replaces the general one; among equals the newest edit wins."""
    found = [r for r in rules if r.kind == kind]
    found.sort(key=lambda r: (r.store_id is not None, r.rule_key, r.version))
    return found[-1] if found else None


def _best(rules: list[RuleView], kinds: tuple[str, ...]) -> RuleView | None:
    found = [r for r in rules if r.kind in kinds]
    return max(found, key=lambda r: (r.value, r.store_id is not None), default=None)


def _ident(rule: RuleView | None):
    return (rule.rule_key, rule.version) if rule is not None else None


def _treatment(rules: list[RuleView]) -> tuple:
    """What decides a line's points: two lines with the same treatment earn together."""
    return (_ident(_most_specific(rules, RuleKind.BASE_RATE.value)),
            _ident(_most_specific(rules, RuleKind.TIER_MULTIPLIER.value)),
            _ident(_best(rules, PROMOTIONS)), _ident(_best(rules, (RuleKind.CATEGORY_BONUS.value,))),
            _ident(_most_specific(rules, RuleKind.CAP.value)))


def _stack(rules: list[RuleView], facts: PurchaseFacts, spend_minor: int, group: LineGroup) -> int:
    """Steps 1 to 4 of the stacking rule on one group's spend. Returns its minor_per_point."""
    rate = _most_specific(rules, RuleKind.BASE_RATE.value)
    minor_per_point = rate.value if rate else facts.default_minor_per_point
    base = spend_minor // minor_per_point
    steps = [Step("base", "", None, minor_per_point, base, rate and rate.rule_key, rate and rate.version,
                  unit="rate")]

    tier_rule = _most_specific(rules, RuleKind.TIER_MULTIPLIER.value)
    tier_pct = tier_rule.value if tier_rule else facts.tier_multiplier_pct
    rate_points = base * tier_pct // 100
    steps.append(Step("×", facts.tier_name, facts.tier_name_zh, tier_pct, rate_points,
                      tier_rule and tier_rule.rule_key, tier_rule and tier_rule.version))

    promo = _best(rules, PROMOTIONS)
    if promo is not None:
        rate_points = base * tier_pct * promo.value // 10_000
        steps.append(Step("×", promo.name, promo.name_zh, promo.value, rate_points,
                          promo.rule_key, promo.version))

    bonus = _best(rules, (RuleKind.CATEGORY_BONUS.value,))
    total = rate_points
    if bonus is not None:
        extra = base * bonus.value // 100
        total += extra
        steps.append(Step("+", bonus.name, bonus.name_zh, bonus.value, extra, bonus.rule_key, bonus.version))

    cap = _most_specific(rules, RuleKind.CAP.value)
    if cap is not None and total > base * cap.value // 100:
        total = base * cap.value // 100
        group.capped = True
        steps.append(Step("cap", cap.name, cap.name_zh, cap.value, total, cap.rule_key, cap.version))
    group.base, group.points, group.steps = base, total, steps
    return minor_per_point


def _group_lines(rules: list[RuleView], facts: PurchaseFacts) -> list[tuple[LineGroup, list[RuleView], list]]:
    groups: dict = {}
    for line in facts.receipt_lines():
        if line.excluded:
            key, line_rules = ("excluded",), []
        else:
            line_rules = applicable(rules, facts, line)
            key = _treatment(line_rules)
        if key not in groups:
            groups[key] = (LineGroup([], [], 0, excluded=line.excluded), line_rules, [])
        group, _, lines = groups[key]
        group.line_nos.append(line.line_no)
        group.spend_minor += line.amount_minor
        lines.append(line)
        named = (line.category or "", line.category_name, line.category_name_zh)
        if named not in group.categories:
            group.categories.append(named)
    return list(groups.values())


def compute(rules: list[RuleView], facts: PurchaseFacts) -> Earning:
    """Apply the stacking rule (module docstring) to one purchase, line by line."""
    grouped = _group_lines(rules, facts)
    earning_groups = [(g, r, lines) for g, r, lines in grouped if not g.excluded]
    minor_per_point = facts.default_minor_per_point
    tier_pct = facts.tier_multiplier_pct
    for n, (group, group_rules, _lines) in enumerate(earning_groups):
        rate = _stack(group_rules, facts, group.spend_minor, group)
        if n == 0:
            minor_per_point, tier_pct = rate, group.steps[1].value
    if not earning_groups:  # nothing on the receipt earns: explain it as zero
        empty = LineGroup([], [], 0)
        _stack([], facts, 0, empty)
        earning_groups = [(empty, [], [])]
        grouped = grouped + [(empty, [], [])]
    base = sum(g.base for g, _, _ in earning_groups)
    total = sum(g.points for g, _, _ in earning_groups)

    line_points: dict[int, int] = {}
    category_points: dict[str, int] = {}
    category_spend: dict[str, int] = {}
    for group, _, lines in grouped:
        parts = split(group.points, [l.amount_minor for l in lines]) if lines else []
        for line, part in zip(lines, parts):
            line_points[line.line_no] = part
            if not line.excluded:
                cat = line.category or ""
                category_spend[cat] = category_spend.get(cat, 0) + line.amount_minor

    final_steps = []
    any_rules = [r for _, group_rules, _ in earning_groups for r in group_rules] or \
        applicable(rules, facts, facts.receipt_lines()[0])
    first = _best(any_rules, (RuleKind.FIRST_PURCHASE.value,)) if facts.first_purchase else None
    if first is not None and base > 0:
        total += first.value
        final_steps.append(Step("+", first.name, first.name_zh, first.value, first.value, first.rule_key,
                                first.version, unit="points"))
        earning_lines = [l for _, _, lines in earning_groups for l in lines]
        for line, part in zip(earning_lines, split(first.value, [l.amount_minor for l in earning_lines])):
            line_points[line.line_no] += part
    for line in facts.receipt_lines():
        if line.line_no in line_points and not line.excluded:
            cat = line.category or ""
            category_points[cat] = category_points.get(cat, 0) + line_points[line.line_no]

    single = len(grouped) == 1
    plain = sum(g.base * facts.tier_multiplier_pct // 100 for g, _, _ in earning_groups)
    return Earning(spend_minor=sum(g.spend_minor for g, _, _ in earning_groups), minor_per_point=minor_per_point,
                   base=base, tier_multiplier_pct=tier_pct, points=total,
                   steps=(earning_groups[0][0].steps + final_steps) if single else [],
                   capped=any(g.capped for g, _, _ in earning_groups), bonus_points=max(total - plain, 0),
                   groups=[g for g, _, _ in grouped], line_points=line_points,
                   category_points=category_points, category_spend=category_spend, final_steps=final_steps)
