"""Tasks: the daily check-in and its streak, profile completion once per field, referral and
its abuse cases, and the daily/monthly caps on all non-purchase points."""
from datetime import date, datetime, timedelta, timezone

import pytest

from mall import settings
from mall.engagement import tasks
from mall.engagement.tasks import AlreadyCheckedIn, ReferralRefused
from mall.extensions import db
from mall.engagement.earning import earn_for_purchase
from mall.points.explain import explain
from mall.points.models import LedgerEntry
from mall.points.statement import account_balance
from tests.factories import make_user

# 09:00 in Shanghai on Monday 1 June 2026.
MORNING = datetime(2026, 6, 1, 1, 0, tzinfo=timezone.utc)


@pytest.fixture
def member(tiers):
    return make_user(MORNING)


def _task_entries(member_id, reason=None):
    q = db.session.query(LedgerEntry).filter_by(member_id=member_id, source="task")
    return q.filter_by(reason=reason).all() if reason else q.all()


def test_checking_in_twice_on_one_day_is_refused_and_earns_once(member):
    first = tasks.check_in(member.id, MORNING)
    assert (first.checkin.streak, first.grant.granted) == (1, 5)
    with pytest.raises(AlreadyCheckedIn):
        tasks.check_in(member.id, MORNING + timedelta(hours=12))  # 21:00 local, same day
    assert account_balance(member.id) == 5
    assert tasks.current_streak(member.id, MORNING) == (1, True)


def test_the_day_follows_the_shops_timezone_not_utc(member):
    tasks.check_in(member.id, datetime(2026, 6, 1, 15, 30, tzinfo=timezone.utc))  # 23:30 in Shanghai
    tasks.check_in(member.id, datetime(2026, 6, 1, 16, 30, tzinfo=timezone.utc))  # 00:30 next day
    assert tasks.current_streak(member.id, datetime(2026, 6, 1, 17, 0, tzinfo=timezone.utc)) == (2, True)


def test_a_streak_grows_day_by_day_pays_a_bonus_on_day_seven_and_resets_after_a_gap(member):
    results = [tasks.check_in(member.id, MORNING + timedelta(days=d)) for d in range(8)]
    assert [r.checkin.streak for r in results] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert [r.grant.granted for r in results] == [5, 5, 5, 5, 5, 5, 35, 5]
    assert results[6].streak_bonus
    assert "streak bonus" in explain(results[6].grant.entry)

    # A missed day keeps the streak alive until that day ends, then it starts over.
    assert tasks.current_streak(member.id, MORNING + timedelta(days=8)) == (8, False)
    assert tasks.current_streak(member.id, MORNING + timedelta(days=9)) == (0, False)
    restart = tasks.check_in(member.id, MORNING + timedelta(days=9))
    assert restart.checkin.streak == 1


def test_profile_fields_earn_once_each_even_when_cleared_and_filled_again(member):
    grants = tasks.update_profile(member.id, birthday=date(1990, 5, 1), city=None, favourite_category=None,
                                  now=MORNING)
    assert [g.granted for g in grants] == [20]
    grants = tasks.update_profile(member.id, birthday=date(1990, 5, 1), city="Shanghai",
                                  favourite_category="kitchen", now=MORNING)
    assert [g.granted for g in grants] == [20, 20]
    tasks.update_profile(member.id, birthday=None, city=None, favourite_category=None, now=MORNING)
    again = tasks.update_profile(member.id, birthday=date(1991, 1, 1), city="Beijing",
                                 favourite_category="kitchen", now=MORNING + timedelta(days=1))
    assert again == []
    assert account_balance(member.id) == 60
    assert tasks.profile_progress(member.id) == (3, 3)
    assert {e.detail["field"] for e in _task_entries(member.id, "profile")} == {"birthday", "city",
                                                                                  "favourite_category"}


def test_the_daily_cap_cuts_a_grant_and_says_so(app, member):
    app.config.update(MALL_TASK_DAILY_CAP=50, MALL_TASK_PROFILE_POINTS=20)
    settings.reload(app)
    grants = tasks.update_profile(member.id, birthday=date(1990, 5, 1), city="Shanghai",
                                  favourite_category="kitchen", now=MORNING)
    assert [(g.granted, g.capped) for g in grants] == [(20, None), (20, None), (10, "day")]
    checkin = tasks.check_in(member.id, MORNING)
    assert (checkin.grant.granted, checkin.grant.capped, checkin.grant.entry) == (0, "day", None)
    assert checkin.checkin.streak == 1  # the streak still counts
    capped_entry = grants[2].entry
    assert capped_entry.detail["wanted"] == 20 and "cap on bonus points (20 offered)" in explain(capped_entry)
    assert account_balance(member.id) == 50
    # The next day the daily cap is fresh again.
    assert tasks.check_in(member.id, MORNING + timedelta(days=1)).grant.granted == 5


def test_the_monthly_cap_spans_days_and_resets_in_the_next_month(app, member):
    app.config.update(MALL_TASK_MONTHLY_CAP=12, MALL_TASK_CHECKIN_POINTS=5)
    settings.reload(app)
    granted = [tasks.check_in(member.id, MORNING + timedelta(days=d)).grant for d in range(3)]
    assert [(g.granted, g.capped) for g in granted] == [(5, None), (5, None), (2, "month")]
    assert tasks.check_in(member.id, MORNING + timedelta(days=3)).grant.capped == "month"
    july = tasks.check_in(member.id, datetime(2026, 7, 1, 1, 0, tzinfo=timezone.utc))
    assert july.grant.granted == 5


def test_purchase_points_are_never_capped(app, member):
    app.config.update(MALL_TASK_DAILY_CAP=1)
    settings.reload(app)
    entry = earn_for_purchase(member.id, 100_000, minor_per_point=100, source="pos", key="r1", now=MORNING)
    assert entry.points == 1000


def _referred_pair(new_login="new@example.com"):
    referrer = make_user(MORNING)
    newcomer = make_user(MORNING, login=new_login)
    return referrer, newcomer


def test_referral_rewards_both_members_after_the_first_purchase_only(member):
    referrer, newcomer = _referred_pair()
    tasks.claim_referral(newcomer.id, referrer.member_code.lower(), device_id="phone-B", now=MORNING)
    assert account_balance(referrer.id) == 0  # nothing until the first purchase

    earn_for_purchase(newcomer.id, 10_000, minor_per_point=100, source="pos", key="first", now=MORNING)
    earn_for_purchase(newcomer.id, 10_000, minor_per_point=100, source="pos", key="second", now=MORNING)
    assert account_balance(referrer.id) == 200
    assert account_balance(newcomer.id) == 100 + 100 + 200
    assert [e.reason for e in _task_entries(referrer.id)] == ["referral"]
    board = tasks.task_board(referrer.id, MORNING)
    assert (board.referred_count, board.rewarded_count) == (1, 1)


@pytest.mark.parametrize("case, message", [
    ("self", "You can't refer yourself."),
    ("loop", "You referred this member, so they can't refer you."),
    ("longer loop", "You referred this member, so they can't refer you."),
    ("same device", "Referrals between accounts on the same device don't count."),
    ("household", "Referrals between accounts on the same device don't count."),
    ("twice", "You have already told us who referred you."),
    ("already bought", "Referrals count only before your first purchase."),
    ("unknown code", "We don't know that member code. Check it and try again."),
])
def test_referral_abuse_is_refused_with_a_reason(tiers, case, message):
    a, b, c = (make_user(MORNING) for _ in range(3))
    if case == "self":
        member, code, device = a, a.member_code, "a-phone"
    elif case == "loop":                       # a referred b; now a claims b referred them
        tasks.claim_referral(b.id, a.member_code, device_id="b-phone", now=MORNING)
        member, code, device = a, b.member_code, "a-phone"
    elif case == "longer loop":                # a -> b -> c, then a claims c referred them
        tasks.claim_referral(b.id, a.member_code, device_id="b-phone", now=MORNING)
        tasks.claim_referral(c.id, b.member_code, device_id="c-phone", now=MORNING)
        member, code, device = a, c.member_code, "a-phone"
    elif case == "same device":                # the referrer was seen on this very phone
        tasks.remember_device(a.id, "family-phone", MORNING)
        member, code, device = b, a.member_code, "family-phone"
    elif case == "household":                  # both accounts used one phone at some point
        tasks.remember_device(a.id, "tablet", MORNING)
        tasks.remember_device(b.id, "tablet", MORNING)
        member, code, device = b, a.member_code, "b-phone"
    elif case == "twice":
        tasks.claim_referral(b.id, a.member_code, device_id="b-phone", now=MORNING)
        member, code, device = b, c.member_code, "b-phone"
    elif case == "already bought":
        earn_for_purchase(b.id, 10_000, minor_per_point=100, source="pos", key="b1", now=MORNING)
        member, code, device = b, a.member_code, "b-phone"
    else:
        member, code, device = b, "MNOPE2345", "b-phone"
    with pytest.raises(ReferralRefused) as refused:
        tasks.claim_referral(member.id, code, device_id=device, now=MORNING)
    assert str(refused.value.message) == message


def test_referral_points_respect_the_caps(app, tiers):
    app.config.update(MALL_TASK_DAILY_CAP=150)
    settings.reload(app)
    referrer, newcomer = _referred_pair()
    tasks.claim_referral(newcomer.id, referrer.member_code, device_id="phone-B", now=MORNING)
    earn_for_purchase(newcomer.id, 10_000, minor_per_point=100, source="pos", key="first", now=MORNING)
    (entry,) = _task_entries(referrer.id)
    assert entry.points == 150 and entry.detail["capped"] == "day"


def test_the_task_board_shows_progress(member):
    for d in range(3):
        tasks.check_in(member.id, MORNING + timedelta(days=d))
    tasks.update_profile(member.id, birthday=date(1990, 1, 1), city=None, favourite_category=None,
                         now=MORNING)
    board = tasks.task_board(member.id, MORNING + timedelta(days=2))
    assert (board.streak, board.checked_in_today, board.days_in_cycle) == (3, True, 3)
    assert board.streak_progress_pct == 42
    assert (board.profile_done, board.profile_pct) == (1, 33)
    assert board.can_claim_referral
