"""Points for purchases, by the earning rules (rules.py has the stacking rule).

A store purchase earns through the purchase-recorded event (mall/events.py): the store
records the purchase, and `purchase_recorded` here credits it by the rules.

Integer arithmetic only; fractions of a point are dropped (floor), never rounded up,
so the programme never issues a point nobody paid for.

Every purchase entry carries the rulebook version and the steps that made its points
(names and values copied), so a later rule edit never changes how a past earn is explained.

Where the credit is written (DESIGN.md #9, #10): base × tier points are the programme's cost
of sales and always issued; the uplift beyond them (promotions, bonuses, first purchase) is
charged to a budget first (the store's, else the campaign's programme budget), and is held
for HQ or left out when that budget is used up. The whole credit is pending for the return
window (MALL_RETURN_WINDOW_DAYS) and released by `mall jobs`.
"""
from datetime import datetime, timedelta

from sqlalchemy import select

from ..budgets.models import GrantKind
from ..budgets.services import (PURCHASE_BONUS, BudgetHeld, BudgetRefused, charge_discretionary, forfeit_grant,
                               hold_grant, record_issued, refuse_frozen)
from ..errors import InvalidAmount
from ..events import first_purchase
from ..extensions import db
from ..locks import app_locks
from ..points.categories import record_category_shares
from ..points.ledger import credit_points, lock_account
from ..points.models import LedgerEntry
from ..points.tiers import expiry_for, record_tier_changes, tier_status
from ..proportion import split
from ..settings import current as current_settings
from .models import MemberProfile
from .rulebook import earning_for
from .rules import LineFacts, PurchaseFacts
from .segments import segment_of


def purchase_points(spend_minor: int, minor_per_point: int, multiplier_pct: int) -> tuple[int, int]:
    base = spend_minor // minor_per_point
    return base, base * multiplier_pct // 100


def is_first_purchase(member_id: int) -> bool:
    return db.session.scalar(select(LedgerEntry.id).where(
        LedgerEntry.member_id == member_id, LedgerEntry.reason == "purchase").limit(1)) is None


def birthday_month(member_id: int) -> int | None:
    profile = db.session.get(MemberProfile, member_id)
    return profile.birthday.month if profile is not None and profile.birthday else None


def line_facts(lines) -> tuple[LineFacts, ...]:
    """Receipt lines as sent with the purchase-recorded event (dicts) -> LineFacts."""
    return tuple(LineFacts(line_no=int(l["line_no"]), amount_minor=int(l["amount_minor"]),
                           category=l.get("category") or None, sku=l.get("sku") or "", name=l.get("name") or "",
                           quantity=int(l.get("quantity") or 1), excluded=bool(l.get("excluded")),
                           category_name=l.get("category_name"), category_name_zh=l.get("category_name_zh"))
                 for l in lines or ())


def purchase_facts(member_id: int, spend_minor: int, *, minor_per_point: int, now: datetime,
                   store_id: int | None = None, category: str | None = None, tier=None, lines=None):
    tier = tier or tier_status(member_id, now).tier
    return PurchaseFacts(spend_minor=spend_minor, at=now, tier_code=tier.code, tier_name=tier.name,
                         tier_name_zh=tier.name_zh, tier_multiplier_pct=tier.multiplier_pct,
                         default_minor_per_point=minor_per_point, store_id=store_id, category=category,
                         first_purchase=is_first_purchase(member_id),
                         timezone=current_settings().timezone, lines=line_facts(lines),
                         birthday_month=birthday_month(member_id), segment=segment_of(member_id))


BONUS_SOURCE = "bonus"
# The programme budget of an uplift no rule names (none so far): never unbudgeted (DESIGN.md #9).
UNNAMED_UPLIFT = "purchase-bonus"


def _campaign_rule_key(detail: dict) -> str | None:
    """The rule the uplift is charged to: the one HQ's cost-by-rule names (detail.campaign)."""
    named = [s for s in detail.get("steps", [])[2:] if s.get("rule_key") and s.get("op") in ("×", "+")]
    return named[0]["rule_key"] if named else None


def _existing(source: str, key: str) -> LedgerEntry | None:
    return db.session.scalar(select(LedgerEntry).where(LedgerEntry.source == source,
                                                       LedgerEntry.idempotency_key == key))


def earn_for_purchase(member_id: int, spend_minor: int, *, minor_per_point: int, source: str,
                      key: str, now: datetime, store_id: int | None = None,
                      reference: str | None = None, actor_id: int | None = None,
                      category: str | None = None, lines: list[dict] | None = None,
                      return_days: int | None = None) -> LedgerEntry | None:
    """Credit a purchase by the current earning rules and count its spend towards the tier.

    The tier is the one held before this purchase; `minor_per_point` is the base rate used
    when no base-rate rule applies. The entry's detail holds the explanation facts
    (`steps`) and the rulebook version (`rules_version`). A replay of (source, key) returns
    the first entry unchanged. Afterwards an upgrade is recorded at once, and a pending
    referral is rewarded when this is the member's first purchase. Returns None when the
    spend is too small to earn a point.

    `lines` (dicts: line_no, amount_minor, category, sku, name, quantity, excluded,
    category_name[_zh]) make the rules apply per line; their amounts add up to
    `spend_minor`. The entry's detail keeps each line's points (`lines`) and, when the lines
    earned under different rules, each group's explanation (`groups`); an entry spanning
    several categories is split for HQ by category shares (points/categories.py).

    The points are pending for `return_days` (default: the programme's return window), and
    the uplift beyond base × tier is charged to a budget before it is credited (module
    docstring); the entry's `detail.bonus_points` is the uplift actually issued. When the
    budget holds or refuses the uplift, the lines' and categories' points are scaled to what
    was credited by the one rounding rule (mall/proportion.py).
    """
    if not isinstance(spend_minor, int) or spend_minor <= 0:
        raise InvalidAmount(field="amount")
    if lines and sum(int(l["amount_minor"]) for l in lines) != spend_minor:
        raise InvalidAmount(field="lines")
    replay = _existing(source, key)
    if replay is not None:
        return replay
    refuse_frozen(member_id)  # the stores check first; this is the guard for every other caller
    status = tier_status(member_id, now)
    facts = purchase_facts(member_id, spend_minor, minor_per_point=minor_per_point, now=now,
                           store_id=store_id, category=category, tier=status.tier, lines=lines)
    earning, version = earning_for(facts)
    if earning.points - earning.bonus_points <= 0:
        # No base points, nothing to earn: an uplift (held, refused or charged) is never left
        # standing with no purchase credit behind it.
        return None
    if lines:
        categories = earning.categories
        category = categories[0] if len(categories) == 1 else None
    expires_at = expiry_for(status.tier, now)
    days = current_settings().return_window_days if return_days is None else return_days
    # The tier's and rules' names are copied, so renaming or editing them later never
    # rewrites this line's story.
    detail = {"spend_minor": spend_minor, "base": earning.base, "tier": facts.tier_code,
              "tier_name": facts.tier_name, "tier_name_zh": facts.tier_name_zh,
              "multiplier_pct": earning.tier_multiplier_pct, "category": category,
              "rules_version": version, **earning.facts()}
    with app_locks().hold(f"points:{member_id}"):
        lock_account(member_id, now)  # the member's row before the budget's: one lock order
        replay = _existing(source, key)  # a concurrent retry of the same purchase got here first
        if replay is not None:
            return replay
        bonus_key = f"{source}:{key}"
        uplift, charge = earning.bonus_points, None
        if uplift > 0:
            rule_key = _campaign_rule_key(detail)
            try:
                charge = charge_discretionary(store_id, uplift, f"bonus:{detail.get('campaign') or 'purchase'}", now,
                                              programme=("campaign", rule_key or UNNAMED_UPLIFT))
            except BudgetHeld as held:
                hold_grant(member_id, uplift, store_id=held.budget.store_id, kind=GrantKind.BONUS.value,
                           reason=PURCHASE_BONUS, source=BONUS_SOURCE, key=bonus_key, expires_at=expires_at,
                           now=now, note=f"bonus:{detail.get('campaign') or ''} {reference or ''}".strip(),
                           programme_budget_id=held.budget.programme_budget_id)
                detail.update(bonus_points=0, bonus_held=uplift)
            except BudgetRefused:
                detail.update(bonus_points=0, bonus_refused=uplift)
        points = earning.points - uplift + detail["bonus_points"]
        if points <= 0:
            return None
        category_points = dict(earning.category_points)
        if points != earning.points:  # the uplift was held or refused: scale the parts to the credit
            if detail.get("lines"):
                shares = split(points, [int(l["points"]) for l in detail["lines"]])
                detail["lines"] = [{**l, "points": p} for l, p in zip(detail["lines"], shares)]
            category_points = dict(zip(category_points, split(points, list(category_points.values()))))
        entry = credit_points(
            member_id, points, reason="purchase", source=source, key=key, now=now,
            expires_at=expires_at, reference=reference, store_id=store_id,
            actor_id=actor_id, spend_minor=spend_minor, detail=detail, queue=False,
            pending_until=now + timedelta(days=days) if days > 0 else None)
        record_category_shares(entry, {c: (p, earning.category_spend.get(c, 0))
                                       for c, p in category_points.items()})
        if charge is not None:
            record_issued(charge, member_id, uplift, kind=GrantKind.BONUS.value, reason=PURCHASE_BONUS,
                          source=BONUS_SOURCE, key=bonus_key, expires_at=expires_at, entry_id=entry.id, now=now,
                          actor_id=actor_id, note=str(detail.get("campaign") or ""))
    record_tier_changes(member_id, now)
    if facts.first_purchase:
        first_purchase.send("engagement", member_id=member_id, now=now, store_id=store_id)
    return entry


def purchase_recorded(sender, *, member_id: int, spend_minor: int, minor_per_point: int, source: str, key: str,
                      now: datetime, store_id: int | None = None, reference: str | None = None,
                      lines: list[dict] | None = None) -> None:
    """Receiver of the purchase-recorded event: earn for the store's purchase by the rules,
    line by line."""
    earn_for_purchase(member_id, spend_minor, minor_per_point=minor_per_point, source=source, key=key, now=now,
                      store_id=store_id, reference=reference, lines=lines)


def purchase_refunded(sender, *, member_id: int, source: str, key: str, full: bool, now: datetime,
                      reference: str | None = None) -> None:
    """Receiver of the purchase-refunded event: the purchase's bonus that waits for HQ (held
    over budget) is rejected, and one HQ approved whose points are still pending is cancelled
    (budgets.forfeit_grant); nothing of it is ever paid for a refunded purchase.

    The rule for a partial refund is the same: any refund forfeits a held bonus whole. A bonus
    may hang on a threshold, a first purchase or a fixed amount, so a share of it kept for
    the lines kept could pay more than the rules would for those lines alone; forfeiting never
    does. (A bonus issued within budget is part of the purchase's own credit and shrinks with
    it, by the refund's cancel: budgets.give_back_uplift.)"""
    note = "purchase refunded" if full else "purchase partly refunded"
    forfeit_grant(BONUS_SOURCE, f"{source}:{key}", member_id=member_id, note=note, now=now, reference=reference)
