"""The rulebook: merchandisers' and HQ's earning rules, kept as insert-only versions.

An edit never updates a row: it inserts version n+1 of the rule, and retiring inserts a
version with active=False. A past earn names the rule versions it used (and copies their
names and values into its ledger entry), so editing a rule never changes its explanation.
"""
import secrets
from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from ..errors import DomainError, NotFound
from ..catalog.services import categories
from ..extensions import db
from ..instore.models import Store
from ..points.tiers import all_tiers
from .models import RULE_VALUE_MAX, SEGMENTS, EarningRule, RuleKind
from .rules import Earning, PurchaseFacts, RuleView, compute


class InvalidRule(DomainError):
    message = _l("That rule is incomplete.")


@dataclass(frozen=True)
class RuleDraft:
    kind: str
    name: str
    value: int
    name_zh: str | None = None
    tier_code: str | None = None
    category_slug: str | None = None
    store_id: int | None = None
    weekdays: tuple[int, ...] = ()
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    skus: tuple[str, ...] = ()
    minute_from: int | None = None   # shop-local minutes since midnight, [from, to)
    minute_to: int | None = None
    month_days: tuple[int, ...] = ()
    birthday_month: bool = False
    segment: str | None = None       # only members in this RFM segment


def _latest_versions():
    newest = (select(EarningRule.rule_key, func.max(EarningRule.version).label("v"))
              .group_by(EarningRule.rule_key).subquery())
    return (select(EarningRule).join(newest, (EarningRule.rule_key == newest.c.rule_key)
                                     & (EarningRule.version == newest.c.v)))


def current_rules() -> list[EarningRule]:
    """The newest version of every rule that is not retired (whatever its window)."""
    return list(db.session.scalars(_latest_versions().where(EarningRule.active.is_(True))
                                   .order_by(EarningRule.kind, EarningRule.id)))


def rulebook_version() -> int:
    """The id of the newest rule row: it grows with every edit and retirement."""
    return db.session.scalar(select(func.coalesce(func.max(EarningRule.id), 0)))


def rule_history(rule_key: str) -> list[EarningRule]:
    rows = list(db.session.scalars(select(EarningRule).where(EarningRule.rule_key == rule_key)
                                   .order_by(EarningRule.version.desc())))
    if not rows:
        raise NotFound()
    return rows


def value_too_large(kind: str):
    return _l("The value can be at most %(max)s for this kind of rule.", max=f"{RULE_VALUE_MAX[kind]:,}")


def _validate(draft: RuleDraft) -> None:
    if draft.kind not in {k.value for k in RuleKind}:
        raise InvalidRule(field="kind")
    if not isinstance(draft.value, int) or draft.value <= 0:
        raise InvalidRule(_l("The value must be a whole number above zero."), field="value")
    if draft.value > RULE_VALUE_MAX[draft.kind]:
        raise InvalidRule(value_too_large(draft.kind), field="value")
    if draft.kind == RuleKind.TIER_MULTIPLIER and not draft.tier_code:
        raise InvalidRule(_l("Choose the tier this multiplier is for."), field="tier_code")
    if draft.kind == RuleKind.CATEGORY_BONUS and not draft.category_slug:
        raise InvalidRule(_l("Choose the category that earns the bonus."), field="category_slug")
    if draft.kind == RuleKind.TIME_SLOT and not (draft.weekdays or draft.minute_from is not None
                                                 or draft.month_days or draft.birthday_month):
        raise InvalidRule(_l("Choose at least one weekday."), field="weekdays")
    if (draft.minute_from is None) != (draft.minute_to is None) or (
            draft.minute_from is not None and not 0 <= draft.minute_from < draft.minute_to <= 1440):
        raise InvalidRule(_l("The hours must end after they start, within one day."), field="minute_to")
    if any(not 1 <= d <= 31 for d in draft.month_days):
        raise InvalidRule(_l("Days of the month run from 1 to 31."), field="month_days")
    if any(not s or len(s) > 40 or "," in s for s in draft.skus) or len(",".join(draft.skus)) > 400:
        raise InvalidRule(_l("List SKUs separated by commas (up to 400 characters)."), field="skus")
    if draft.segment and draft.segment not in SEGMENTS:
        raise InvalidRule(_l("Choose one of the segments."), field="segment")
    if draft.kind == RuleKind.CAMPAIGN and not (draft.starts_at and draft.ends_at):
        raise InvalidRule(_l("A campaign needs a start and an end."), field="ends_at")
    if draft.starts_at and draft.ends_at and draft.ends_at <= draft.starts_at:
        raise InvalidRule(_l("The end must be after the start."), field="ends_at")
    if draft.kind in (RuleKind.TIME_SLOT, RuleKind.CAMPAIGN, RuleKind.TIER_MULTIPLIER) and draft.value < 100:
        raise InvalidRule(_l("A multiplier is a percentage of at least 100 (100 = ×1)."), field="value")


def save_rule(draft: RuleDraft, *, actor_id: int | None, now: datetime,
              rule_key: str | None = None) -> EarningRule:
    """Create a rule, or (with rule_key) write its next version. Raises InvalidRule, NotFound."""
    _validate(draft)
    version = 1
    if rule_key is not None:
        latest = rule_history(rule_key)[0]
        if not latest.active:
            raise NotFound()
        version = latest.version + 1
    rule = EarningRule(rule_key=rule_key or secrets.token_hex(4), version=version, active=True,
                       kind=draft.kind, name=draft.name.strip(), name_zh=(draft.name_zh or "").strip() or None,
                       value=draft.value, tier_code=draft.tier_code or None,
                       category_slug=draft.category_slug or None, store_id=draft.store_id,
                       weekdays=",".join(str(d) for d in sorted(draft.weekdays)) or None,
                       starts_at=draft.starts_at, ends_at=draft.ends_at, created_at=now, created_by=actor_id,
                       skus=",".join(draft.skus) or None, minute_from=draft.minute_from, minute_to=draft.minute_to,
                       month_days=",".join(str(d) for d in sorted(set(draft.month_days))) or None,
                       birthday_month=bool(draft.birthday_month), segment=draft.segment or None)
    db.session.add(rule)
    db.session.flush()
    return rule


def retire_rule(rule_key: str, *, actor_id: int | None, now: datetime) -> EarningRule:
    """Stop a rule from applying to new earns; its versions stay to explain past ones."""
    latest = rule_history(rule_key)[0]
    if not latest.active:
        return latest
    row = EarningRule(rule_key=latest.rule_key, version=latest.version + 1, active=False,
                      kind=latest.kind, name=latest.name, name_zh=latest.name_zh, value=latest.value,
                      tier_code=latest.tier_code, category_slug=latest.category_slug,
                      store_id=latest.store_id, weekdays=latest.weekdays, starts_at=latest.starts_at,
                      ends_at=latest.ends_at, created_at=now, created_by=actor_id, skus=latest.skus,
                      minute_from=latest.minute_from, minute_to=latest.minute_to, month_days=latest.month_days,
                      birthday_month=latest.birthday_month, segment=latest.segment)
    db.session.add(row)
    db.session.flush()
    return row


def rule_views() -> list[RuleView]:
    return [RuleView.of(r) for r in current_rules()]


def earning_for(facts: PurchaseFacts) -> tuple[Earning, int]:
    """The points a purchase earns under the current rulebook, and that rulebook's version."""
    return compute(rule_views(), facts), rulebook_version()


def rule_choices() -> tuple[list, list, list]:
    """(tiers, categories, stores) the console offers as a rule's scope."""
    return all_tiers(), categories(), list(db.session.scalars(select(Store).order_by(Store.code)))


