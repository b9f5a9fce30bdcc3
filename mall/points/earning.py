"""Points for purchases: base rate x the member's tier multiplier.

Integer arithmetic only; fractions of a point are dropped (floor), never rounded up,
so the programme never issues a point nobody paid for.
"""
from datetime import datetime

from ..errors import InvalidAmount
from .ledger import credit_points
from .models import LedgerEntry
from .tiers import expiry_for, tier_status


def purchase_points(spend_minor: int, minor_per_point: int, multiplier_pct: int) -> tuple[int, int]:
    base = spend_minor // minor_per_point
    return base, base * multiplier_pct // 100


def earn_for_purchase(member_id: int, spend_minor: int, *, minor_per_point: int, source: str,
                      key: str, now: datetime, store_id: int | None = None,
                      reference: str | None = None, actor_id: int | None = None) -> LedgerEntry | None:
    """Credit a purchase and count its spend towards the tier. The tier is the one held
    before this purchase. Returns None when the spend is too small to earn a point."""
    if not isinstance(spend_minor, int) or spend_minor <= 0:
        raise InvalidAmount(field="amount")
    status = tier_status(member_id, now)
    base, points = purchase_points(spend_minor, minor_per_point, status.tier.multiplier_pct)
    if points <= 0:
        return None
    return credit_points(
        member_id, points, reason="purchase", source=source, key=key, now=now,
        expires_at=expiry_for(status.tier, now), reference=reference, store_id=store_id,
        actor_id=actor_id, spend_minor=spend_minor,
        # The tier's names are copied, so renaming a tier later never rewrites this line's story.
        detail={"spend_minor": spend_minor, "base": base, "tier": status.tier.code,
                "tier_name": status.tier.name, "tier_name_zh": status.tier.name_zh,
                "multiplier_pct": status.tier.multiplier_pct})
