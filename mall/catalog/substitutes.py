"""Ranked substitutes: what a merchandiser links, and what a disappointed member is offered."""
import uuid
from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select

from ..extensions import db
from ..points.models import Tier
from ..points.tiers import TierStatus
from ..errors import NotFound
from .management import InvalidItem, get_item, snapshot
from .models import Item, ItemChange, ItemSubstitute, PricePlan
from .services import ItemCard, item_card

MIN_SUBSTITUTES, MAX_SUBSTITUTES = 2, 3


def _reaches(item_id: int, target: int, seen: set[int]) -> bool:
    """Does following substitute links from item_id lead back to target?"""
    if item_id == target:
        return True
    if item_id in seen:
        return False
    seen.add(item_id)
    nexts = db.session.scalars(select(ItemSubstitute.substitute_id).where(ItemSubstitute.item_id == item_id))
    return any(_reaches(n, target, seen) for n in nexts)


def set_substitutes(item_id: int, substitute_ids: list[int], *, actor_id: int | None, now: datetime) -> list[str]:
    """Link two or three ranked substitutes (first is offered first), or none to clear them.
    Refuses one alone, the item itself, repeats and unknown items; returns warnings a
    merchandiser should read: a cycle (A offers B, B offers A), a substitute that some of
    the item's tiers can't redeem, or one members can't see."""
    item = get_item(item_id)
    ids = [i for i in substitute_ids if i]
    if ids and not MIN_SUBSTITUTES <= len(ids) <= MAX_SUBSTITUTES:
        raise InvalidItem(_l("Link two or three substitutes, or none."), field="substitutes")
    if item_id in ids:
        raise InvalidItem(_l("An item can't be its own substitute."), field="substitutes")
    if len(set(ids)) != len(ids):
        raise InvalidItem(_l("Each substitute can be listed once."), field="substitutes")
    subs = [db.session.get(Item, i) for i in ids]
    if any(s is None for s in subs):
        raise InvalidItem(_l("Choose substitutes from the catalogue."), field="substitutes")
    before = snapshot(item) | {"substitutes": [s.substitute_id for s in _links(item_id)]}
    db.session.execute(delete(ItemSubstitute).where(ItemSubstitute.item_id == item_id))
    db.session.flush()
    for rank, sub in enumerate(subs, start=1):
        db.session.add(ItemSubstitute(item_id=item_id, substitute_id=sub.id, rank=rank))
    db.session.flush()
    after_links = {"substitutes": ids}
    _log_links(item, before, after_links, actor_id, now)
    return warnings_for(item, subs)


def _links(item_id: int) -> list[ItemSubstitute]:
    return list(db.session.scalars(select(ItemSubstitute).where(ItemSubstitute.item_id == item_id)
                                   .order_by(ItemSubstitute.rank)))


def _log_links(item, before, after_links, actor_id, now):
    if before.get("substitutes") != after_links["substitutes"]:
        db.session.add(ItemChange(item_id=item.id, actor_id=actor_id, action="substitutes", created_at=now,
                                  before={"substitutes": before.get("substitutes")}, after=after_links))


def _rank(tier_id: int | None) -> int:
    return db.session.get(Tier, tier_id).rank if tier_id else 0


def warnings_for(item: Item, subs: list[Item]) -> list[str]:
    warnings = []
    for sub in subs:
        if _reaches(sub.id, item.id, set()):
            warnings.append(str(_l("%(sub)s leads back to %(item)s: the substitutes form a cycle.",
                                   sub=sub.name, item=item.name)))
        if _rank(sub.min_tier_id) > _rank(item.min_tier_id):
            warnings.append(str(_l("%(sub)s is for higher tiers than %(item)s: some members won't be offered it.",
                                   sub=sub.name, item=item.name)))
        if not sub.published:
            warnings.append(str(_l("%(sub)s is not published: nobody will be offered it until it is.", sub=sub.name)))
    return warnings


@dataclass(frozen=True)
class SubstituteOffer(ItemCard):
    """A substitute's card plus what a one-tap switch submits: the plan to buy it with (its
    points plan when it has one) and a fresh idempotency key for that submit."""
    plan: PricePlan | None = None
    key: str = ""


def _switch_plan(item: Item) -> PricePlan | None:
    plans = [p for p in item.plans if p.active]
    return next((p for p in plans if p.kind == "points"), plans[0] if plans else None)


def offers_for(item_id: int, status: TierStatus, balance: int, now: datetime) -> list[SubstituteOffer]:
    """The item's substitutes this member could take right now: in stock, unlocked, on sale,
    in rank order, each priced for the member's tier."""
    offers = []
    for link in _links(item_id):
        try:
            card = item_card(link.substitute_id, status, balance, now)
        except NotFound:  # unpublished or out of its window: not offered
            continue
        if card.available > 0 and not card.locked:
            offers.append(SubstituteOffer(**vars(card), plan=_switch_plan(card.item), key=uuid.uuid4().hex))
    return offers
