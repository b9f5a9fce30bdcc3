"""The batch ledger credit of queued check-ins (issue 16): what `tasks.grant_task_points`
does for one check-in, for a whole batch in a constant number of statements.

Per check-in, in the batch's order, the outcome is the single path's:
* already credited (a ledger entry with its key) or held before (a grant with its key):
  nothing new (the check-in shows the points that entry has);
* a frozen member: nothing;
* the member's daily and monthly task caps cut the points (capped "day" / "month"), maybe
  to nothing;
* the programme budget of check-ins takes the points that fit, in order (budgets.bulk);
  the rest are held for HQ (a held grant, as hold_grant writes it) or refused (nothing),
  per the budget's setting; the check-in then shows 0 points, as a synchronous one does;
* the rest are credited: ledger entry, lot expiring as the member's tier says, balance
  (points.bulk), and an issued grant against the budget.

The statements do not depend on the batch size: the accounts are locked in member order,
then replays, frozen members, caps (one grouped query per shop day in the batch), tiers,
the budget, then one multi-row INSERT each for entries, lots and grants, one UPDATE for the
balances and one for the check-ins' points. A member twice in a batch (yesterday's check-in
re-queued beside today's) is credited in a second round, so each round's caps are read with
the member's earlier credits already written, as the single path reads them.
"""
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import case, func, literal, select, update

from .. import shoptime
from ..accounts.models import User
from ..budgets.bulk import BatchGrant, charge_in_order, record_many
from ..budgets.models import DiscretionaryGrant
from ..budgets.services import month_of
from ..extensions import db
from ..points.bulk import Credit, credit_many, lock_accounts
from ..points.models import EntryKind, LedgerEntry
from ..points.tiers import expiry_for, tiers_at
from ..settings import current as current_settings
from .models import Checkin
from .tasks import TASK_SOURCE


@dataclass(frozen=True)
class CheckinToCredit:
    checkin_id: int
    member_id: int
    day: date
    streak: int
    wanted: int
    streak_bonus: bool
    at: datetime         # when the member checked in: the credit's time, caps' day and month

    @property
    def key(self) -> str:  # the single path's key (tasks.check_in)
        return f"checkin:{self.member_id}:{self.day.isoformat()}"


def credit_checkins(items: list[CheckinToCredit]) -> dict[int, int]:
    """Credit the check-ins (rows already inserted, points 0) in order; returns checkin_id ->
    points granted (0 when capped away, held, refused or frozen). Flushes only."""
    granted, rounds, left = {}, [], list(items)
    while left:  # each member once per round
        seen, this, later = set(), [], []
        for item in left:
            (later if item.member_id in seen else this).append(item)
            seen.add(item.member_id)
        rounds.append(this)
        left = later
    for this in rounds:
        granted.update(_credit_round(this))
    points = {cid: p for cid, p in granted.items() if p}
    if points:
        db.session.execute(update(Checkin).where(Checkin.id.in_(list(points)))
                           .values(points=case(points, value=Checkin.id))
                           .execution_options(synchronize_session=False))
    return granted


def _credit_round(items: list[CheckinToCredit]) -> dict[int, int]:
    zone, rewards = current_settings().timezone, current_settings().tasks
    opened = {}
    for item in items:
        opened.setdefault(item.member_id, item.at)
    balances = lock_accounts(opened)  # first: the single path locks the account before reading
    keys = [item.key for item in items]
    # Grants first, entries last: an approved grant has both, and its entry's points count.
    done = dict(db.session.execute(
        select(DiscretionaryGrant.idempotency_key, literal(0)).where(
            DiscretionaryGrant.source == TASK_SOURCE, DiscretionaryGrant.idempotency_key.in_(keys))
        .union_all(select(LedgerEntry.idempotency_key, LedgerEntry.points).where(
            LedgerEntry.source == TASK_SOURCE, LedgerEntry.idempotency_key.in_(keys)))).all())
    frozen = set(db.session.scalars(select(User.id).where(User.id.in_(list(opened)), User.frozen_at.is_not(None))))
    granted = {item.checkin_id: done.get(item.key, 0) for item in items}
    todo = [item for item in items if item.key not in done and item.member_id not in frozen]
    used = _cap_usage(todo, zone)
    wanted = []
    for item in todo:
        today, month = used.get((item.member_id, shoptime.local_day(item.at, zone)), (0, 0))
        day_left, month_left = rewards.daily_cap - today, rewards.monthly_cap - month
        points = min(item.wanted, max(min(day_left, month_left), 0))
        if points > 0:
            capped = None if points == item.wanted else ("day" if day_left <= month_left else "month")
            wanted.append((item, points, capped))
    tiers = tiers_at([(item.member_id, item.at) for item, _p, _c in wanted])
    months = {}
    for entry in wanted:
        months.setdefault(month_of(entry[0].at), []).append(entry)
    for group in months.values():
        charge = charge_in_order([points for _item, points, _c in group], "task:checkin", group[0][0].at,
                                 programme=("task", "checkin"))
        fits = [(item, points, capped) for (item, points, capped), fit in zip(group, charge.fits) if fit]
        credits = [Credit(item.member_id, points, "checkin", TASK_SOURCE, item.key, item.at,
                          expiry_for(tiers[(item.member_id, item.at)], item.at),
                          {"streak": item.streak, "streak_bonus": item.streak_bonus, "wanted": item.wanted,
                           "capped": capped, "discretionary": True}) for item, points, capped in fits]
        entries = credit_many(credits, balances)
        grants = [BatchGrant(c.member_id, c.points, c.key, c.expires_at, c.now, e.id) for c, e in zip(credits, entries)]
        if not charge.refuses:  # held: waits for HQ's approval; refused: nothing is written
            grants += [BatchGrant(item.member_id, points, item.key,
                                  expiry_for(tiers[(item.member_id, item.at)], item.at), item.at, None)
                       for (item, points, _c), fit in zip(group, charge.fits) if not fit]
        record_many(charge, grants, kind="task", reason="checkin", source=TASK_SOURCE, note="task:checkin")
        for (item, points, _c) in fits:
            granted[item.checkin_id] = points
    return granted


def _cap_usage(items: list[CheckinToCredit], zone: str) -> dict[tuple[int, date], tuple[int, int]]:
    """(member_id, shop day) -> (task points earned that day, that month): one grouped query
    per shop day in the batch (one, except across midnight)."""
    usage = {}
    by_day = {}
    for item in items:
        by_day.setdefault(shoptime.local_day(item.at, zone), set()).add(item.member_id)
    for day, members in by_day.items():
        start, end = shoptime.day_bounds_utc(day, zone)
        month_start, month_end = shoptime.month_bounds_utc(day, zone)
        in_day = (LedgerEntry.created_at >= start) & (LedgerEntry.created_at < end)
        for member_id, today, month in db.session.execute(
                select(LedgerEntry.member_id, func.sum(case((in_day, LedgerEntry.points), else_=0)),
                       func.sum(LedgerEntry.points))
                .where(LedgerEntry.member_id.in_(sorted(members)), LedgerEntry.source == TASK_SOURCE,
                       LedgerEntry.kind == EntryKind.EARN.value, LedgerEntry.created_at >= month_start,
                       LedgerEntry.created_at < month_end)
                .group_by(LedgerEntry.member_id)).all():
            usage[(member_id, day)] = (int(today or 0), int(month or 0))
    return usage
