"""Tiers follow qualifying spend over the rolling 12 months, never the current balance
(a balance falls when the member redeems; their standing should not).

Lifecycle (issue 6): the tier a member holds is the higher of
- the tier their rolling spend reaches now (so an upgrade is immediate), and
- the tier they hold (MemberTier) until its period ends (so a downgrade waits for the end
  of the period, never mid-period).
`record_tier_changes` writes the held tier and its history; purchases call it at once and
`mall jobs` calls it for members whose period has ended (renew or downgrade).
"""
import calendar
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, null, select

from ..events import tier_changed
from ..extensions import db
from ..idempotency import insert_once
from .models import LedgerEntry, MemberTier, Tier, TierChange

WINDOW = timedelta(days=365)
PERIOD_MONTHS = 12  # how long a reached tier is held before it is reviewed
RECENT_SPEND = timedelta(hours=1)  # the jobs' safety net for spend credited outside earn_for_purchase


def add_months(at: datetime, months: int) -> datetime:
    month0 = at.month - 1 + months
    year, month = at.year + month0 // 12, month0 % 12 + 1
    day = min(at.day, calendar.monthrange(year, month)[1])
    return at.replace(year=year, month=month, day=day)


def all_tiers() -> list[Tier]:
    return list(db.session.scalars(select(Tier).order_by(Tier.rank)))


def qualifying_spend(member_id: int, now: datetime, *, window_end: datetime | None = None) -> int:
    """Spend in the 12 months before `window_end` (default: now), counting only what has
    happened by `now`: with a future window_end, the spend that will still count then."""
    window_end = window_end or now
    return db.session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.spend_minor), 0))
        .where(LedgerEntry.member_id == member_id, LedgerEntry.created_at > window_end - WINDOW,
               LedgerEntry.created_at <= now)) or 0


@dataclass(frozen=True)
class TierStatus:
    tier: Tier
    next_tier: Tier | None
    qualifying_minor: int
    # Lifecycle: when the held tier is reviewed, and the spend still needed by then to keep it.
    held_until: datetime | None = None
    retain_short_minor: int = 0
    retain_counted_minor: int = 0

    @property
    def retain_progress_pct(self) -> int:
        return min(100, self.retain_counted_minor * 100 // max(self.tier.threshold_minor, 1))

    @property
    def to_next_minor(self) -> int:
        return max(self.next_tier.threshold_minor - self.qualifying_minor, 0) if self.next_tier else 0

    @property
    def progress_pct(self) -> int:
        if self.next_tier is None:
            return 100
        return min(100, self.qualifying_minor * 100 // max(self.next_tier.threshold_minor, 1))

    def reaches(self, tier: Tier | None) -> bool:
        return tier is None or self.tier.rank >= tier.rank

    def spend_to_reach(self, tier: Tier) -> int:
        return max(tier.threshold_minor - self.qualifying_minor, 0)

    def progress_to(self, tier: Tier) -> int:
        return min(100, self.qualifying_minor * 100 // max(tier.threshold_minor, 1))


def status_for_spend(spend_minor: int, tiers: list[Tier]) -> TierStatus:
    if not tiers:
        raise LookupError("no tiers configured: run `flask --app wsgi mall demo` or add tiers")
    reached = [t for t in tiers if t.threshold_minor <= spend_minor] or tiers[:1]
    current = reached[-1]
    higher = [t for t in tiers if t.rank > current.rank]
    return TierStatus(tier=current, next_tier=higher[0] if higher else None,
                      qualifying_minor=spend_minor)


def _held(member_id: int, now: datetime) -> MemberTier | None:
    held = db.session.get(MemberTier, member_id)
    if held is None or (held.period_ends_at is not None and held.period_ends_at <= now):
        return None  # a lapsed period: the job is about to review it; spend decides meanwhile
    return held


def tier_status(member_id: int, now: datetime) -> TierStatus:
    tiers = all_tiers()
    spend = qualifying_spend(member_id, now)
    status = status_for_spend(spend, tiers)
    held = _held(member_id, now)
    if held is None or held.tier.rank < status.tier.rank:
        return status
    tier = held.tier
    higher = [t for t in tiers if t.rank > tier.rank]
    short = counted = 0
    if held.period_ends_at is not None:
        counted = qualifying_spend(member_id, now, window_end=held.period_ends_at)
        short = max(tier.threshold_minor - counted, 0)
    return TierStatus(tier=tier, next_tier=higher[0] if higher else None, qualifying_minor=spend,
                      held_until=held.period_ends_at, retain_short_minor=short,
                      retain_counted_minor=counted)


def _change(member_id: int, kind: str, from_tier: Tier | None, to_tier: Tier, spend: int,
            period_ends_at: datetime | None, now: datetime) -> TierChange:
    change = TierChange(member_id=member_id, kind=kind, from_tier_id=from_tier.id if from_tier else None,
                        to_tier_id=to_tier.id, qualifying_minor=spend, period_ends_at=period_ends_at,
                        created_at=now)
    db.session.add(change)
    db.session.flush()
    tier_changed.send("points", change=change, from_tier=from_tier, to_tier=to_tier, now=now)
    return change


def record_tier_changes(member_id: int, now: datetime) -> TierChange | None:
    """Bring the held tier up to date: an upgrade at once, and at the end of a period a
    renewal (spend still qualifies) or a downgrade (to the tier the spend reaches). Writes
    tier history and a tier-change notification. Idempotent: a second call changes nothing.
    """
    tiers = all_tiers()
    if not tiers:
        return None
    spend = qualifying_spend(member_id, now)
    reached = status_for_spend(spend, tiers).tier
    entry_tier = tiers[0]
    held = db.session.execute(select(MemberTier).where(MemberTier.member_id == member_id)
                              .with_for_update()).scalar_one_or_none()
    if held is None:
        if reached.rank == entry_tier.rank:
            return None
        ends = add_months(now, PERIOD_MONTHS)
        _, created = insert_once(lambda: db.session.add(MemberTier(member_id=member_id, tier_id=reached.id,
                                                                   reached_at=now, period_ends_at=ends)))
        if not created:  # a concurrent purchase recorded this upgrade first
            return None
        return _change(member_id, "upgrade", entry_tier, reached, spend, ends, now)
    current = held.tier
    if reached.rank > current.rank:
        held.tier_id, held.reached_at = reached.id, now
        held.period_ends_at = add_months(now, PERIOD_MONTHS)
        db.session.flush()
        db.session.expire(held, ["tier"])
        return _change(member_id, "upgrade", current, reached, spend, held.period_ends_at, now)
    if held.period_ends_at is None or held.period_ends_at > now:
        return None
    if reached.rank == current.rank:
        ends = held.period_ends_at
        while ends <= now:
            ends = add_months(ends, PERIOD_MONTHS)
        held.period_ends_at = ends
        db.session.flush()
        return _change(member_id, "renewal", current, current, spend, ends, now)
    held.tier_id, held.reached_at = reached.id, now
    held.period_ends_at = None if reached.rank == entry_tier.rank else add_months(now, PERIOD_MONTHS)
    db.session.flush()
    db.session.expire(held, ["tier"])
    return _change(member_id, "downgrade", current, reached, spend, held.period_ends_at, now)


def review_tiers(now: datetime, *, batch: int = 500) -> dict:
    """The `mall jobs` tier review: every member whose period has ended, plus anyone with
    spend in the last hour, so a spend credited without earn_for_purchase (which upgrades at
    once itself) still upgrades within a minute. The hour covers a job that missed a few runs
    while keeping a run that happens every minute cheap. Members are taken in pages of
    `batch` by id, so one run covers them all."""
    ended = (MemberTier.period_ends_at.is_not(None)) & (MemberTier.period_ends_at <= now)
    recent = (LedgerEntry.spend_minor > 0) & (LedgerEntry.created_at > now - RECENT_SPEND)
    counts = {"upgrade": 0, "renewal": 0, "downgrade": 0}
    after = 0
    while True:
        page = sorted(set(db.session.scalars(
            select(MemberTier.member_id).where(ended, MemberTier.member_id > after)
            .order_by(MemberTier.member_id).limit(batch)).all()) | set(db.session.scalars(
            select(LedgerEntry.member_id).where(recent, LedgerEntry.member_id > after).distinct()
            .order_by(LedgerEntry.member_id).limit(batch)).all()))[:batch]
        if not page:
            return counts
        for member_id in page:
            change = record_tier_changes(member_id, now)
            if change is not None:
                counts[change.kind] += 1
        after = page[-1]


def tier_history(member_id: int) -> list[TierChange]:
    return list(db.session.scalars(select(TierChange).where(TierChange.member_id == member_id)
                                   .order_by(TierChange.created_at.desc(), TierChange.id.desc())))


BANNER_DAYS = 30  # an undismissed celebration banner stops showing after this long


def unseen_upgrade(member_id: int, now: datetime) -> TierChange | None:
    """The newest recent upgrade the member has not dismissed: the celebration banner."""
    return db.session.scalar(select(TierChange).where(
        TierChange.member_id == member_id, TierChange.kind == "upgrade", TierChange.seen_at.is_(None),
        TierChange.created_at > now - timedelta(days=BANNER_DAYS))
        .order_by(TierChange.id.desc()).limit(1))


def dismiss_banner(member_id: int, change_id: int, now: datetime) -> None:
    change = db.session.get(TierChange, change_id)
    if change is not None and change.member_id == member_id and change.seen_at is None:
        change.seen_at = now
        db.session.flush()


def expiry_for(tier: Tier, now: datetime) -> datetime:
    return add_months(now, tier.validity_months)


def tiers_at(items: list[tuple[int, datetime]]) -> dict[tuple[int, datetime], Tier]:
    """`tier_status(member_id, now).tier` for many (member_id, now) at once, in three
    statements (the batch credit's expiry): the spend in the window every `now` shares is
    summed per member, the few entries at the window's moving edges are read one by one."""
    if not items:
        return {}
    tiers = all_tiers()
    by_id = {t.id: t for t in tiers}
    members = sorted({m for m, _at in items})
    first, last = min(at for _m, at in items), max(at for _m, at in items)
    shared = select(LedgerEntry.member_id, func.sum(LedgerEntry.spend_minor), null()).where(
        LedgerEntry.member_id.in_(members), LedgerEntry.created_at > last - WINDOW, LedgerEntry.created_at <= first,
        LedgerEntry.spend_minor != 0).group_by(LedgerEntry.member_id)
    edges = select(LedgerEntry.member_id, LedgerEntry.spend_minor, LedgerEntry.created_at).where(
        LedgerEntry.member_id.in_(members), LedgerEntry.spend_minor != 0,
        ((LedgerEntry.created_at > first - WINDOW) & (LedgerEntry.created_at <= last - WINDOW))
        | ((LedgerEntry.created_at > first) & (LedgerEntry.created_at <= last)))
    spend, moving = {}, []
    query = edges.union_all(shared) if first != last else shared  # edges first: their column types apply
    for member_id, minor, at in db.session.execute(query).all():
        if at is None:
            spend[member_id] = spend.get(member_id, 0) + int(minor or 0)
        else:
            moving.append((member_id, int(minor), at))
    held = {m: (tier_id, ends) for m, tier_id, ends in db.session.execute(
        select(MemberTier.member_id, MemberTier.tier_id, MemberTier.period_ends_at)
        .where(MemberTier.member_id.in_(members))).all()}
    result = {}
    for member_id, now in items:
        total = spend.get(member_id, 0) + sum(minor for m, minor, at in moving
                                              if m == member_id and now - WINDOW < at <= now)
        tier = status_for_spend(total, tiers).tier
        tier_id, ends = held.get(member_id, (None, None))
        if tier_id is not None and (ends is None or ends > now) and by_id[tier_id].rank >= tier.rank:
            tier = by_id[tier_id]
        result[(member_id, now)] = tier
    return result
