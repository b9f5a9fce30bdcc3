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

Everything here is pure: `compute` takes the facts and the rules and returns the points
with the steps that explain them, so the console preview and real earning agree.
"""
from dataclasses import asdict, dataclass, field
from datetime import datetime

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

    @classmethod
    def of(cls, rule) -> "RuleView":
        return cls(rule_key=rule.rule_key, version=rule.version, kind=rule.kind, name=rule.name,
                   name_zh=rule.name_zh, value=rule.value, tier_code=rule.tier_code,
                   category_slug=rule.category_slug, store_id=rule.store_id,
                   weekdays=tuple(rule.weekday_list), starts_at=rule.starts_at, ends_at=rule.ends_at)


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

    @property
    def campaign(self) -> str | None:
        """The promotion or bonus rule this earn is credited to in HQ's cost-by-rule figures:
        the multiplying promotion if one applied, else the first added bonus."""
        named = [s for s in self.steps[2:] if s.rule_key and s.op in ("×", "+")]
        return named[0].name if named else None

    def facts(self) -> dict:
        facts = {"steps": [asdict(s) for s in self.steps], "minor_per_point": self.minor_per_point,
                 "capped": self.capped, "bonus_points": self.bonus_points}
        if self.campaign:
            facts["campaign"] = self.campaign  # read by mall/hq/analytics.py (cost by rule)
        return facts


def _in_window(rule: RuleView, at: datetime) -> bool:
    return (rule.starts_at is None or rule.starts_at <= at) and (rule.ends_at is None or at < rule.ends_at)


def applicable(rules: list[RuleView], facts: PurchaseFacts) -> list[RuleView]:
    """Rules whose window, store, category, tier and weekdays match the purchase."""
    weekday = facts.at.astimezone(shop_zone(facts.timezone)).isoweekday()
    out = []
    for rule in rules:
        if not _in_window(rule, facts.at):
            continue
        if rule.store_id is not None and rule.store_id != facts.store_id:
            continue
        if rule.category_slug and rule.category_slug != facts.category:
            continue
        if rule.tier_code and rule.tier_code != facts.tier_code:
            continue
        if rule.weekdays and weekday not in rule.weekdays:
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


def compute(rules: list[RuleView], facts: PurchaseFacts) -> Earning:
    """Apply the stacking rule (module docstring) to one purchase."""
    rules = applicable(rules, facts)
    rate = _most_specific(rules, RuleKind.BASE_RATE.value)
    minor_per_point = rate.value if rate else facts.default_minor_per_point
    base = facts.spend_minor // minor_per_point
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

    capped = False
    cap = _most_specific(rules, RuleKind.CAP.value)
    if cap is not None and total > base * cap.value // 100:
        total = base * cap.value // 100
        capped = True
        steps.append(Step("cap", cap.name, cap.name_zh, cap.value, total, cap.rule_key, cap.version))

    first = _best(rules, (RuleKind.FIRST_PURCHASE.value,)) if facts.first_purchase else None
    if first is not None and base > 0:
        total += first.value
        steps.append(Step("+", first.name, first.name_zh, first.value, first.value, first.rule_key,
                          first.version, unit="points"))

    plain = base * facts.tier_multiplier_pct // 100
    return Earning(spend_minor=facts.spend_minor, minor_per_point=minor_per_point, base=base,
                   tier_multiplier_pct=tier_pct, points=total, steps=steps, capped=capped,
                   bonus_points=max(total - plain, 0))
