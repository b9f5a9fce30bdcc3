"""Rights (issue 13): a right item grants its holder a right for a time.

- Buying a right item: when its order is fulfilled (checkout's "fulfilled" event, see
  docs/checkout.md), each right line grants the item's RightSpec for `valid_days` from
  then; the grant's source is "order:<order id>:<line id>" (UNIQUE), so it happens once.
- `held_by(account_id, now)` lists the rights in force; `holds(...)` answers one kind.
- Priority purchase: presale lets holders pre-order in its priority window (presale/).
"""
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from ..errors import DomainError
from ..extensions import db
from .models import RIGHT_KINDS, RightGrant, RightSpec

RIGHT_LABELS = {"priority_purchase": _l("Priority purchase"), "free_delivery": _l("Free delivery"),
                "exclusive_service": _l("Exclusive service line")}


@dataclass(frozen=True)
class HeldRight:
    kind: str
    label: str
    valid_from: datetime
    valid_until: datetime


def spec_for(item_id: int) -> RightSpec | None:
    return db.session.scalar(select(RightSpec).where(RightSpec.item_id == item_id))


def save_spec(item_id: int, right_kind: str, valid_days: int) -> RightSpec:
    """What a right item grants. Refuses an unknown kind or a validity outside 1-3660 days."""
    if right_kind not in RIGHT_KINDS:
        raise DomainError(_l("Choose which right the item grants."), field="right_kind")
    if not isinstance(valid_days, int) or not 1 <= valid_days <= 3660:
        raise DomainError(_l("Between 1 and 3660 days."), field="valid_days")
    spec = spec_for(item_id)
    if spec is None:
        spec = RightSpec(item_id=item_id)
        db.session.add(spec)
    spec.right_kind, spec.valid_days = right_kind, valid_days
    db.session.flush()
    return spec


def grant(account_id: int, right_kind: str, *, source: str, valid_from: datetime, valid_until: datetime,
          now: datetime, item_id: int | None = None, order_id: int | None = None) -> RightGrant:
    """Grant a right once per source (a replay returns the first grant)."""
    existing = db.session.scalar(select(RightGrant).where(RightGrant.source == source))
    if existing is not None:
        return existing
    row = RightGrant(account_id=account_id, right_kind=right_kind, source=source, item_id=item_id,
                     order_id=order_id, valid_from=valid_from, valid_until=valid_until, created_at=now)
    db.session.add(row)
    db.session.flush()
    return row


def renewal_start(account_id: int | None, right_kind: str, now: datetime) -> datetime:
    """When a right of this kind bought now starts: at once, or, for a member who already
    holds it, when what they hold ends (a second purchase extends it; periods never overlap)."""
    if account_id is None:
        return now
    held_until = db.session.scalar(select(func.max(RightGrant.valid_until)).where(
        RightGrant.account_id == account_id, RightGrant.right_kind == right_kind, RightGrant.valid_until > now))
    return max(now, held_until) if held_until is not None else now


def grant_for_order(order, now: datetime) -> list[RightGrant]:
    """The rights a fulfilled order's right lines grant, for each item's validity from now or,
    when the member already holds that right, from its end (renewal_start)."""
    grants = []
    for line in order.lines:
        if line.item_kind != "right":
            continue
        spec = spec_for(line.item_id)
        if spec is None:  # a right item without its spec: nothing to grant (audit shows the order)
            continue
        start = renewal_start(order.member_id, spec.right_kind, now)  # (a replay gets its first grant back)
        grants.append(grant(order.member_id, spec.right_kind, source=f"order:{order.id}:{line.id}", valid_from=start,
                            valid_until=start + timedelta(days=spec.valid_days), now=now,
                            item_id=line.item_id, order_id=order.id))
    return grants


def held_by(account_id: int, now: datetime) -> list[HeldRight]:
    """The account's rights in force at `now`, one per kind, by kind: from the start of the one
    in force to the end of the last renewal that follows it (renewals start where the held
    period ends, so they chain)."""
    rows = db.session.scalars(select(RightGrant).where(
        RightGrant.account_id == account_id, RightGrant.valid_until > now)
        .order_by(RightGrant.right_kind, RightGrant.valid_from))
    held: dict[str, HeldRight] = {}
    for row in rows:
        current = held.get(row.right_kind)
        if current is None and row.valid_from <= now:
            held[row.right_kind] = HeldRight(row.right_kind, str(RIGHT_LABELS[row.right_kind]),
                                             row.valid_from, row.valid_until)
        elif current is not None and row.valid_from <= current.valid_until:
            held[row.right_kind] = HeldRight(current.kind, current.label, current.valid_from,
                                             max(current.valid_until, row.valid_until))
    return list(held.values())


def holds(account_id: int | None, right_kind: str, now: datetime) -> bool:
    if account_id is None:
        return False
    return db.session.scalar(select(RightGrant.id).where(
        RightGrant.account_id == account_id, RightGrant.right_kind == right_kind,
        RightGrant.valid_from <= now, RightGrant.valid_until > now).limit(1)) is not None
