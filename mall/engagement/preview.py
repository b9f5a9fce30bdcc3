"""The console's preview: what a purchase would earn under the current rules, explained
exactly as the member's statement will explain it (same function, same steps)."""
from dataclasses import dataclass

from ..points.tiers import all_tiers
from ..settings import current as current_settings
from .earning import line_facts
from .rulebook import earning_for
from .rules import Earning, PurchaseFacts


@dataclass(frozen=True)
class Preview:
    facts: PurchaseFacts
    earning: Earning
    rules_version: int

    @property
    def detail(self) -> dict:
        """The same facts a ledger entry would store, for explain.formula()."""
        return {"spend_minor": self.facts.spend_minor, "base": self.earning.base,
                "tier_name": self.facts.tier_name, "tier_name_zh": self.facts.tier_name_zh,
                "multiplier_pct": self.earning.tier_multiplier_pct, "rules_version": self.rules_version,
                **self.earning.facts()}


def preview_purchase(*, tier_code: str, spend_minor: int, at, store_id: int | None, category: str | None,
                     first_purchase: bool, lines: list[dict] | None = None, segment: str | None = None) -> Preview:
    """`lines` (dicts of line_no, category, amount_minor, sku) make the preview per line, like
    a till's receipt; then the spend is their sum. `segment`: the member's RFM segment (none:
    a member not in any, so segment-scoped rules don't apply)."""
    tier = next(t for t in all_tiers() if t.code == tier_code)
    settings = current_settings()
    facts = PurchaseFacts(spend_minor=spend_minor, at=at, tier_code=tier.code, tier_name=tier.name,
                          tier_name_zh=tier.name_zh, tier_multiplier_pct=tier.multiplier_pct,
                          default_minor_per_point=settings.earn_base_minor_per_point,
                          store_id=store_id, category=category, first_purchase=first_purchase,
                          timezone=settings.timezone, lines=line_facts(lines), segment=segment or None)
    earning, version = earning_for(facts)
    return Preview(facts, earning, version)


def preview(form, to_utc) -> Preview | None:
    """From the console's preview form; None while the form is incomplete."""
    if not form.validate():
        return None
    lines = form.line_list() or None
    spend = sum(line["amount_minor"] for line in lines) if lines else form.spend.data
    return preview_purchase(tier_code=form.tier_code.data, spend_minor=spend, at=to_utc(form.at.data),
                            store_id=form.store_id.data or None, category=form.category_slug.data or None,
                            first_purchase=bool(form.first_purchase.data), lines=lines,
                            segment=form.segment.data or None)
