"""The batch ledger credit of queued check-ins (engagement.checkin_credit) gives what the
single path (tasks.check_in -> grant_task_points) gives: the same ledger entries, lots,
balances, grants and budget use, with caps, streak bonuses, frozen members and a programme
budget used up mid-batch (held or refused)."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from mall import settings
from mall.audit import run_audit
from mall.budgets import services as budgets
from mall.budgets.models import BudgetMonth, DiscretionaryGrant
from mall.engagement import burst, tasks
from mall.engagement.models import Checkin
from mall.extensions import db
from mall.points.models import LedgerEntry, PointLot, PointsAccount
from mall.points.tiers import expiry_for, tier_status
from tests.factories import make_user

PATHS = ("single", "batch")


def _check_in(path, member_ids, now):
    """Check these members in, in order: one by one, or as one queued batch."""
    if path == "single":
        for member_id in member_ids:
            tasks.check_in(member_id, now)
    else:
        day = tasks.local_day(now)
        burst.credit_batch([(m, day, now) for m in member_ids], rewards=settings.current().tasks)
    db.session.flush()
    db.session.expire_all()


def _snapshot(member_id):
    """Everything a check-in writes for a member, with the member's id taken out of keys."""
    def key(k):
        return k.replace(f":{member_id}:", ":M:")
    entries = [(e.kind, e.points, e.balance_after, e.reason, e.source, key(e.idempotency_key), e.detail,
                e.created_at, e.store_id, e.spend_minor)
               for e in db.session.scalars(select(LedgerEntry).where(LedgerEntry.member_id == member_id)
                                           .order_by(LedgerEntry.id))]
    lots = [(lot.amount, lot.remaining, lot.expires_at, lot.created_at, lot.pending_state)
            for lot in db.session.scalars(select(PointLot).where(PointLot.member_id == member_id)
                                          .order_by(PointLot.id))]
    account = db.session.get(PointsAccount, member_id)
    grants = [(g.points, g.kind, g.reason, g.note, g.source, key(g.idempotency_key), g.status, g.month,
               g.expires_at, g.programme_budget_id, g.store_id, g.entry_id is not None, g.created_at)
              for g in db.session.scalars(select(DiscretionaryGrant).where(DiscretionaryGrant.member_id == member_id)
                                          .order_by(DiscretionaryGrant.id))]
    checkins = [(c.day, c.streak, c.points, c.wanted)
                for c in db.session.scalars(select(Checkin).where(Checkin.member_id == member_id)
                                            .order_by(Checkin.day))]
    return entries, lots, (account.balance, account.pending) if account else None, grants, checkins


def _budget_used():
    return sum(m.used_points for m in db.session.scalars(select(BudgetMonth)))


def _audit_ok():
    return not [f for f in run_audit() if f.violations]


def test_one_check_in_credited_in_a_batch_writes_what_the_single_path_writes(app, tiers, clock):
    single, batch = make_user(clock.now()).id, make_user(clock.now()).id
    for member_id in (single, batch):  # six days in a row: today completes the streak (bonus)
        for back in range(6, 0, -1):
            db.session.add(Checkin(member_id=member_id, day=tasks.local_day(clock.now()) - timedelta(days=back),
                                   streak=7 - back, points=0, wanted=5, created_at=clock.now() - timedelta(days=back)))
    db.session.flush()
    before = _budget_used()
    _check_in("single", [single], clock.now())
    used_single = _budget_used() - before
    _check_in("batch", [batch], clock.now())
    assert _budget_used() - before - used_single == used_single == 35
    assert _snapshot(single) == _snapshot(batch)
    assert _snapshot(batch)[0][0][6]["streak_bonus"] is True
    assert _audit_ok()


def test_a_capped_check_in_is_capped_alike_by_both_paths(app, tiers, clock):
    single, batch = make_user(clock.now()).id, make_user(clock.now()).id
    for member_id in (single, batch):  # 298 of the 300 daily task points already earned
        tasks.grant_task_points(member_id, 298, reason="profile", key=f"profile:{member_id}:city", now=clock.now())
    _check_in("single", [single], clock.now())
    _check_in("batch", [batch], clock.now())
    assert _snapshot(single) == _snapshot(batch)
    assert _snapshot(batch)[0][-1][1] == 2 and _snapshot(batch)[0][-1][6]["capped"] == "day"


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("setting", ("hold", "refuse"))
def test_a_budget_used_up_mid_batch_credits_what_fits_in_order_like_the_single_path(app, tiers, clock, path, setting):
    boss = make_user(clock.now(), role="hq")
    budgets.set_programme_budget("task", "checkin", "Check-in", 12, setting, actor_id=boss.id, now=clock.now())
    members = [make_user(clock.now()).id for _ in range(4)]
    _check_in(path, members, clock.now())
    credited = [sum(e[1] for e in _snapshot(m)[0]) for m in members]
    assert credited == [5, 5, 0, 0]                      # 12 points: two fit, the rest waits or is refused
    assert [_snapshot(m)[4][0][2] for m in members] == [5, 5, 0, 0]
    held = [g for m in members for g in _snapshot(m)[3] if g[6] == "held"]
    assert len(held) == (2 if setting == "hold" else 0)
    month = db.session.scalar(select(BudgetMonth))
    assert (month.used_points, month.limit_points) == (10, 12)
    assert month.warned_at is not None and month.exhausted_at is None
    assert _audit_ok()


@pytest.mark.parametrize("path", PATHS)
def test_a_frozen_member_and_an_earlier_credit_get_nothing_new_on_either_path(app, tiers, clock, path):
    frozen, fine = make_user(clock.now()), make_user(clock.now()).id
    frozen.frozen_at = clock.now()
    db.session.flush()
    _check_in(path, [frozen.id, fine], clock.now())
    assert _snapshot(frozen.id)[0] == [] and _snapshot(frozen.id)[4][0][2] == 0
    assert _snapshot(fine)[2] == (5, 0)
    assert _audit_ok()


def test_a_replayed_batch_credits_nothing_twice(app, tiers, clock):
    members = [make_user(clock.now()).id for _ in range(3)]
    day = tasks.local_day(clock.now())
    rows = [(m, day, clock.now()) for m in members]
    assert burst.credit_batch(rows, rewards=settings.current().tasks) == 3
    assert burst.credit_batch(rows, rewards=settings.current().tasks) == 0
    db.session.expire_all()
    assert [_snapshot(m)[2] for m in members] == [(5, 0)] * 3
    assert _audit_ok()


def test_a_member_twice_in_one_batch_is_credited_for_each_day_with_the_streak(app, tiers, clock):
    member_id = make_user(clock.now()).id
    today = tasks.local_day(clock.now())
    yesterday = clock.now() - timedelta(days=1)
    assert burst.credit_batch([(member_id, today, clock.now()), (member_id, today - timedelta(days=1), yesterday)],
                              rewards=settings.current().tasks) == 2
    db.session.expire_all()
    entries, _lots, balance, _grants, checkins = _snapshot(member_id)
    assert [(c[1], c[2]) for c in checkins] == [(1, 5), (2, 5)]
    assert [e[2] for e in entries] == [5, 10] and balance == (10, 0)
    assert _audit_ok()


@pytest.mark.parametrize("path", PATHS)
def test_a_later_smaller_check_in_still_fits_a_budget_a_bonus_did_not(app, tiers, clock, path):
    boss = make_user(clock.now(), role="hq")
    budgets.set_programme_budget("task", "checkin", "Check-in", 12, "hold", actor_id=boss.id, now=clock.now())
    bonus, plain, other = (make_user(clock.now()).id for _ in range(3))
    for back in range(6, 0, -1):   # the first member's seventh day in a row: 35 points wanted
        db.session.add(Checkin(member_id=bonus, day=tasks.local_day(clock.now()) - timedelta(days=back),
                               streak=7 - back, points=0, wanted=5, created_at=clock.now() - timedelta(days=back)))
    db.session.flush()
    _check_in(path, [bonus, plain, other], clock.now())
    assert [_snapshot(m)[2] for m in (bonus, plain, other)] == [(0, 0), (5, 0), (5, 0)]
    assert [g[6] for g in _snapshot(bonus)[3]] == ["held"] and _snapshot(bonus)[3][0][0] == 35
    assert db.session.scalar(select(BudgetMonth.used_points)) == 10
    assert _audit_ok()


def test_check_ins_at_different_times_in_one_batch_expire_as_each_ones_tier_says(app, tiers, clock):
    members = [make_user(clock.now()).id for _ in range(3)]
    day = tasks.local_day(clock.now())
    rows = [(m, day, clock.now() + timedelta(seconds=i)) for i, m in enumerate(members)]
    assert burst.credit_batch(rows, rewards=settings.current().tasks) == 3
    db.session.expire_all()
    for member_id, _day, at in rows:
        lot = db.session.scalar(select(PointLot).where(PointLot.member_id == member_id))
        assert lot.expires_at == expiry_for(tier_status(member_id, at).tier, at) and lot.created_at == at
    assert _audit_ok()
