"""Which categories a ledger entry's points belong to, when it spans several (issue 12).

A purchase with fresh-food and kitchen lines earns one entry (one intent, one effect); an
order of items from two categories spends one. HQ's dashboard splits such an entry by its
shares (mall/hq/analytics.py); an entry of one category just names it in detail.category.
The shares of an entry add up to its points (the sharing rule, engagement/rules.py).
"""
from sqlalchemy import select

from ..extensions import db
from .models import EntryCategoryShare, LedgerEntry


def record_category_shares(entry: LedgerEntry, shares: dict[str, tuple[int, int]]) -> None:
    """Split `entry` by category: {category: (points, spend_minor)}. Nothing is written for a
    single category (detail.category says it) or when the entry already has its shares (a
    replay). Zero-point shares are kept only if they carry spend."""
    shares = {cat: (p, s) for cat, (p, s) in shares.items() if p or s}
    if len(shares) < 2 or db.session.scalar(select(EntryCategoryShare.entry_id)
                                            .where(EntryCategoryShare.entry_id == entry.id).limit(1)):
        return
    if sum(p for p, _ in shares.values()) != entry.points:
        raise ValueError("category shares must add up to the entry's points")
    db.session.add_all(EntryCategoryShare(entry_id=entry.id, category=cat[:40], points=p, spend_minor=s)
                       for cat, (p, s) in shares.items())
    db.session.flush()
