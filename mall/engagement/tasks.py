"""Member tasks: daily check-in with a streak bonus, profile completion (per field, once),
and referral (both members earn after the new member's first purchase).

Every task credit is a ledger entry with source "task" and a reason ("checkin", "profile",
"referral"), so HQ's budgets can tell discretionary points from purchase points. All task
points together are capped per local day and per local month; a capped grant says so
(TaskGrant.capped) instead of failing silently, and the ledger entry records what was
wanted and what was granted.
"""
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from .. import shoptime
from ..accounts.models import User
from ..budgets.labels import task_budget_label
from ..budgets.models import DiscretionaryGrant, ProgrammeBudget
from ..budgets.services import (BudgetHeld, BudgetRefused, Charge, charge_discretionary, hold_grant,
                               record_issued, refuse_frozen)
from ..errors import DomainError
from ..extensions import db
from ..idempotency import insert_once
from ..locks import app_locks
from ..points.ledger import credit_points, lock_account
from ..points.models import EntryKind, LedgerEntry
from ..points.tiers import expiry_for, tier_status
from ..risk.services import check_earn_velocity
from ..settings import TaskRewards
from ..settings import current as current_settings
from .earning import is_first_purchase
from .models import Checkin, MemberDevice, MemberProfile, Referral

TASK_SOURCE = "task"
PROFILE_FIELDS = ("birthday", "city", "favourite_category")


class AlreadyCheckedIn(DomainError):
    message = _l("You have already checked in today. Come back tomorrow to keep your streak going!")


class ReferralRefused(DomainError):
    field = "code"


def _rewards() -> TaskRewards:
    return current_settings().tasks


def _zone_name() -> str:
    return current_settings().timezone


def local_day(now: datetime) -> date:
    return shoptime.local_day(now, _zone_name())


def _used(member_id: int, start: datetime, end: datetime) -> int:
    return db.session.scalar(select(func.coalesce(func.sum(LedgerEntry.points), 0)).where(
        LedgerEntry.member_id == member_id, LedgerEntry.source == TASK_SOURCE,
        LedgerEntry.kind == EntryKind.EARN.value,
        LedgerEntry.created_at >= start, LedgerEntry.created_at < end))


@dataclass(frozen=True)
class CapUsage:
    used_today: int
    daily_cap: int
    used_month: int
    monthly_cap: int

    @property
    def left(self) -> int:
        return max(min(self.daily_cap - self.used_today, self.monthly_cap - self.used_month), 0)


def cap_usage(member_id: int, now: datetime) -> CapUsage:
    day = local_day(now)
    return CapUsage(used_today=_used(member_id, *shoptime.day_bounds_utc(day, _zone_name())),
                    daily_cap=_rewards().daily_cap,
                    used_month=_used(member_id, *shoptime.month_bounds_utc(day, _zone_name())),
                    monthly_cap=_rewards().monthly_cap)


@dataclass(frozen=True)
class TaskGrant:
    wanted: int
    granted: int
    capped: str | None          # "day" or "month" when a cap cut the grant, "frozen" for a frozen member
    entry: LedgerEntry | None
    replayed: bool = False      # the same task was rewarded before; nothing new happened
    held: bool = False          # the budget is used up: the points wait for HQ's approval
    budget_name: str | None = None  # the programme budget that held or refused them (None: the store's)

    @property
    def notice(self):
        """What to tell the member when a budget held or refused the points, naming it: the
        store's, or the programme budget (per task kind) where no store was involved."""
        if self.held and self.budget_name:
            return _l("The programme budget %(budget)s is used up this month: your %(points)s points are "
                      "waiting for HQ's approval.", budget=self.budget_name, points=self.wanted)
        if self.held:
            return _l("The store's points budget is used up this month: your %(points)s points are "
                      "waiting for HQ's approval.", points=self.wanted)
        if self.capped == "budget" and self.budget_name:
            return _l("The programme budget %(budget)s is used up this month, so these points could not be given.",
                      budget=self.budget_name)
        if self.capped == "budget":
            return _l("The store's points budget is used up this month, so these points could not be given.")
        return None


def grant_task_points(member_id: int, points: int, *, reason: str, key: str, now: datetime,
                      detail: dict | None = None, store_id: int | None = None) -> TaskGrant:
    """Credit task points within the member's daily and monthly caps. Idempotent per key.

    The member's lock and account row are held while the caps are read and the credit is
    written, so two tasks finishing at once can't both squeeze under the same cap.
    When the store's budget is used up and set to hold, the points become a held grant
    (source "task", same key) that HQ approves or rejects; approving credits the ledger
    entry with this key, so a replay afterwards finds it and nothing is credited twice.
    """
    with app_locks().hold(f"points:{member_id}"):
        lock_account(member_id, now)
        replay = db.session.scalar(select(LedgerEntry).where(
            LedgerEntry.source == TASK_SOURCE, LedgerEntry.idempotency_key == key))
        if replay is not None:
            d = replay.detail or {}
            return TaskGrant(d.get("wanted", replay.points), replay.points, d.get("capped"), replay, True)
        held = _held_grant(key)
        if held is not None:
            return TaskGrant(held.points, 0, None, None, True, held=held.status == "held",
                             budget_name=_programme_name(held.programme_budget_id))
        try:
            refuse_frozen(member_id)  # e.g. a frozen referrer: the new member still earns theirs
        except DomainError:
            return TaskGrant(points, 0, "frozen", None)
        usage = cap_usage(member_id, now)
        granted = min(points, usage.left)
        capped = None
        if granted < points:
            capped = "day" if usage.daily_cap - usage.used_today <= usage.monthly_cap - usage.used_month else "month"
        if granted <= 0:
            return TaskGrant(points, 0, capped, None)
        expires_at = expiry_for(tier_status(member_id, now).tier, now)
        try:
            charge = _charge_budget(store_id, granted, reason, now)
        except BudgetRefused as refused:
            return TaskGrant(points, 0, "budget", None, budget_name=_budget_name(refused.budget, reason))
        except BudgetHeld as held:
            hold_grant(member_id, granted, store_id=held.budget.store_id, kind="task", reason=reason,
                       source=TASK_SOURCE, key=key, expires_at=expires_at, now=now, note=f"task:{reason}",
                       programme_budget_id=held.budget.programme_budget_id)
            return TaskGrant(granted, 0, capped, None, held=True, budget_name=_budget_name(held.budget, reason))
        entry = credit_points(member_id, granted, reason=reason, source=TASK_SOURCE, key=key, now=now,
                              expires_at=expires_at,
                              detail={**(detail or {}), "wanted": points, "capped": capped,
                                      "discretionary": True},
                              store_id=store_id, queue=False)
        record_issued(charge, member_id, granted, kind="task", reason=reason, source=TASK_SOURCE, key=key,
                      expires_at=expires_at, entry_id=entry.id, now=now, note=f"task:{reason}")
    return TaskGrant(points, granted, capped, entry)


def _charge_budget(store_id: int | None, points: int, reason: str, now: datetime) -> Charge:
    """Charge the budget for task points before they are credited: the store's when the task
    has a store with a budget, else the programme budget for this task kind (check-in,
    profile, referral). Raises BudgetHeld / BudgetRefused per that budget's setting when it
    is used up (nothing is charged then, and the caller credits nothing)."""
    return charge_discretionary(store_id, points, f"task:{reason}", now, programme=("task", reason))


def _budget_name(budget, task: str) -> str | None:
    """The name of the programme budget for `task` in the member's notice, in their language
    where it is a default name (budgets/labels.py); None for a store's budget."""
    if budget is None or not budget.is_programme or not budget.name:
        return None
    return task_budget_label("task", task, budget.name)


def _programme_name(programme_budget_id: int | None) -> str | None:
    budget = db.session.get(ProgrammeBudget, programme_budget_id) if programme_budget_id is not None else None
    return task_budget_label(budget.scope, budget.target, budget.name) if budget is not None else None


def held_task_budgets(member_id: int) -> list[tuple[str | None, int]]:
    """Task points of this member waiting for HQ's approval, per budget that held them:
    (the programme budget's name, or None for a store's budget; points)."""
    rows = db.session.execute(
        select(ProgrammeBudget.scope, ProgrammeBudget.target, ProgrammeBudget.name,
               func.sum(DiscretionaryGrant.points))
        .select_from(DiscretionaryGrant)
        .outerjoin(ProgrammeBudget, ProgrammeBudget.id == DiscretionaryGrant.programme_budget_id)
        .where(DiscretionaryGrant.member_id == member_id, DiscretionaryGrant.source == TASK_SOURCE,
               DiscretionaryGrant.status == "held")
        .group_by(ProgrammeBudget.scope, ProgrammeBudget.target, ProgrammeBudget.name)
        .order_by(ProgrammeBudget.name)).all()
    return [(task_budget_label(scope, target, name) if name is not None else None, int(points))
            for scope, target, name, points in rows]


def _held_grant(key: str):
    """The grant HQ holds (or decided) for this task key, if the store's budget held it."""
    return db.session.scalar(select(DiscretionaryGrant).where(DiscretionaryGrant.source == TASK_SOURCE,
                                                              DiscretionaryGrant.idempotency_key == key))


def held_task_points(member_id: int) -> int:
    """Task points of this member waiting for HQ's approval (shown on the task board)."""
    return db.session.scalar(select(func.coalesce(func.sum(DiscretionaryGrant.points), 0)).where(
        DiscretionaryGrant.member_id == member_id, DiscretionaryGrant.source == TASK_SOURCE,
        DiscretionaryGrant.status == "held"))


def check_velocity(member_id: int, *, device: str | None, ip: str | None, now: datetime) -> None:
    """Risk control's earning velocity limits (per member, device and address) for an earn
    the member started; raises risk.services.EarningTooFast before anything is written."""
    check_earn_velocity(member_id, device=device, ip=ip, now=now)


# --- daily check-in ---------------------------------------------------------------------

@dataclass(frozen=True)
class CheckinResult:
    checkin: Checkin
    grant: TaskGrant
    streak_bonus: bool


def _checkin_on(member_id: int, day: date) -> Checkin | None:
    return db.session.scalar(select(Checkin).where(Checkin.member_id == member_id, Checkin.day == day))


def check_in(member_id: int, now: datetime, *, device: str | None = None, ip: str | None = None) -> CheckinResult:
    """Check in for today (the shop's local day). The streak grows when yesterday had a
    check-in; every MALL_TASK_STREAK_DAYS-th day in a row adds the streak bonus.
    Raises AlreadyCheckedIn on a second check-in the same day (UNIQUE backs it), and
    EarningTooFast past the velocity limits (then no check-in is recorded)."""
    day = local_day(now)
    if _checkin_on(member_id, day) is not None:
        raise AlreadyCheckedIn()
    check_velocity(member_id, device=device, ip=ip, now=now)
    yesterday = _checkin_on(member_id, day - timedelta(days=1))
    streak = yesterday.streak + 1 if yesterday else 1
    bonus = streak % _rewards().streak_days == 0
    wanted = _rewards().checkin_points + (_rewards().streak_bonus if bonus else 0)
    checkin = Checkin(member_id=member_id, day=day, streak=streak, points=0, wanted=wanted, created_at=now)
    # One savepoint: the member's lock is taken after the row is added, and a LockUnavailable
    # ("busy, try again") must leave no check-in behind that was never credited.
    with db.session.begin_nested():
        try:
            with db.session.begin_nested():
                db.session.add(checkin)
        except IntegrityError as exc:  # a double tap racing this one
            raise AlreadyCheckedIn() from exc
        grant = grant_task_points(member_id, wanted, reason="checkin", key=f"checkin:{member_id}:{day.isoformat()}",
                                  now=now, detail={"streak": streak, "streak_bonus": bonus})
        checkin.points = grant.granted
        db.session.flush()
    return CheckinResult(checkin=checkin, grant=grant, streak_bonus=bonus)


def current_streak(member_id: int, now: datetime) -> tuple[int, bool]:
    """(streak, checked in today). A streak survives until the end of the day after the
    last check-in."""
    day = local_day(now)
    today = _checkin_on(member_id, day)
    if today is not None:
        return today.streak, True
    yesterday = _checkin_on(member_id, day - timedelta(days=1))
    return (yesterday.streak if yesterday else 0), False


# --- profile ----------------------------------------------------------------------------

def profile_of(member_id: int) -> MemberProfile:
    return db.session.get(MemberProfile, member_id) or MemberProfile(member_id=member_id)


def _rewarded(key: str) -> bool:
    return db.session.scalar(select(LedgerEntry.id).where(LedgerEntry.source == TASK_SOURCE,
                                                          LedgerEntry.idempotency_key == key)) is not None \
        or _held_grant(key) is not None


def update_profile(member_id: int, *, birthday: date | None, city: str | None,
                   favourite_category: str | None, now: datetime, device: str | None = None,
                   ip: str | None = None) -> list[TaskGrant]:
    """Save the profile; each field earns points the first time it is filled in, once
    ever (the ledger key is per field, so clearing and refilling earns nothing).
    A save that would earn counts once against the velocity limits; past them it raises
    EarningTooFast before anything (the profile too) is written."""
    values = {"birthday": birthday, "city": (city or "").strip() or None,
              "favourite_category": favourite_category or None}
    if any(values[name] is not None and not _rewarded(f"profile:{member_id}:{name}") for name in PROFILE_FIELDS):
        check_velocity(member_id, device=device, ip=ip, now=now)
    profile = db.session.get(MemberProfile, member_id)
    if profile is None:
        profile = MemberProfile(member_id=member_id)
        db.session.add(profile)
    profile.birthday = birthday
    profile.city = (city or "").strip() or None
    profile.favourite_category = favourite_category or None
    db.session.flush()
    grants = []
    for name in PROFILE_FIELDS:
        if getattr(profile, name) is not None:
            grants.append(grant_task_points(member_id, _rewards().profile_points, reason="profile",
                                            key=f"profile:{member_id}:{name}", now=now,
                                            detail={"field": name}))
    return [g for g in grants if not g.replayed]


def profile_progress(member_id: int) -> tuple[int, int]:
    profile = profile_of(member_id)
    return sum(getattr(profile, f) is not None for f in PROFILE_FIELDS), len(PROFILE_FIELDS)


# --- devices and referral ---------------------------------------------------------------

def remember_device(member_id: int, device_id: str | None, now: datetime) -> None:
    if not device_id:
        return
    if db.session.get(MemberDevice, (member_id, device_id)) is not None:
        return
    insert_once(lambda: db.session.add(MemberDevice(member_id=member_id, device_id=device_id,
                                                    first_seen=now)))  # skipped if two tabs race


def _shares_device(a: int, b: int, device_id: str | None) -> bool:
    devices_of_b = select(MemberDevice.device_id).where(MemberDevice.member_id == b)
    if device_id and db.session.get(MemberDevice, (b, device_id)) is not None:
        return True
    return db.session.scalar(select(func.count()).select_from(MemberDevice).where(
        MemberDevice.member_id == a, MemberDevice.device_id.in_(devices_of_b))) > 0


def _referrer_of(member_id: int) -> int | None:
    return db.session.scalar(select(Referral.referrer_id).where(Referral.referred_id == member_id))


def claim_referral(member_id: int, code: str, *, device_id: str | None, now: datetime) -> Referral:
    """Record that the member with `code` referred this member. Refused: an unknown code,
    oneself, a member who was already referred or has already made a purchase, a loop
    (the referrer was, directly or further up, referred by this member), and a referrer seen
    on this member's device (one household referring itself). A refusal writes nothing.
    `device_id` is origin.request_origin()'s checked device (None: no device known)."""
    referrer = db.session.scalar(select(User).where(User.member_code == (code or "").strip().upper()))
    if referrer is None or referrer.role != "member":
        raise ReferralRefused(_l("We don't know that member code. Check it and try again."))
    if referrer.id == member_id:
        raise ReferralRefused(_l("You can't refer yourself."))
    if _referrer_of(member_id) is not None:
        raise ReferralRefused(_l("You have already told us who referred you."))
    if not is_first_purchase(member_id):
        raise ReferralRefused(_l("Referrals count only before your first purchase."))
    seen, up = set(), referrer.id
    while up is not None and up not in seen:
        if up == member_id:
            raise ReferralRefused(_l("You referred this member, so they can't refer you."))
        seen.add(up)
        up = _referrer_of(up)
    if _shares_device(member_id, referrer.id, device_id):
        raise ReferralRefused(_l("Referrals between accounts on the same device don't count."))
    referral = Referral(referrer_id=referrer.id, referred_id=member_id, device_id=device_id, created_at=now)
    try:
        with db.session.begin_nested():
            db.session.add(referral)
    except IntegrityError as exc:
        raise ReferralRefused(_l("You have already told us who referred you.")) from exc
    remember_device(member_id, device_id, now)  # only once nothing refused: a refusal writes nothing
    return referral


def reward_referral(member_id: int, now: datetime, *, store_id: int | None = None) -> list[TaskGrant]:
    """After the referred member's first purchase: both members earn, once (charged to the
    budget of the store where that purchase happened, if any)."""
    referral = db.session.scalar(select(Referral).where(Referral.referred_id == member_id,
                                                        Referral.rewarded_at.is_(None)).with_for_update())
    if referral is None:
        return []
    points = _rewards().referral_points
    grants = [grant_task_points(referral.referrer_id, points, reason="referral",
                                key=f"referral:{referral.id}:referrer", now=now,
                                detail={"role": "referrer", "referral": referral.id}, store_id=store_id),
              grant_task_points(referral.referred_id, points, reason="referral",
                                key=f"referral:{referral.id}:referred", now=now,
                                detail={"role": "referred", "referral": referral.id}, store_id=store_id)]
    referral.rewarded_at = now
    db.session.flush()
    return grants


# --- the member's task board ------------------------------------------------------------

@dataclass(frozen=True)
class TaskBoard:
    streak: int
    checked_in_today: bool
    streak_days: int            # the bonus comes every this many days in a row
    checkin_points: int
    streak_bonus: int
    profile_done: int
    profile_total: int
    profile_points: int
    referral_code: str
    referral_points: int
    referred_count: int
    rewarded_count: int
    referred_by: str | None
    can_claim_referral: bool
    caps: CapUsage
    held_points: int = 0        # task points waiting for HQ's approval (a budget was used up)
    held_by_budget: tuple = ()  # (programme budget name or None for a store's, points) for each budget

    @property
    def days_in_cycle(self) -> int:
        """Days of the current run towards the next bonus (a full bar on a bonus day)."""
        if self.streak and self.streak % self.streak_days == 0 and self.checked_in_today:
            return self.streak_days
        return self.streak % self.streak_days

    @property
    def streak_progress_pct(self) -> int:
        return self.days_in_cycle * 100 // self.streak_days

    @property
    def profile_pct(self) -> int:
        return self.profile_done * 100 // max(self.profile_total, 1)

    @property
    def daily_cap_pct(self) -> int:
        return min(100, self.caps.used_today * 100 // max(self.caps.daily_cap, 1))


def task_board(member_id: int, now: datetime) -> TaskBoard:
    member = db.session.get(User, member_id)
    streak, today = current_streak(member_id, now)
    done, total = profile_progress(member_id)
    referred = db.session.execute(select(func.count(), func.count(Referral.rewarded_at))
                                  .where(Referral.referrer_id == member_id)).one()
    by_id = _referrer_of(member_id)
    by = db.session.get(User, by_id).display_name if by_id else None
    return TaskBoard(streak=streak, checked_in_today=today, streak_days=_rewards().streak_days,
                     checkin_points=_rewards().checkin_points, streak_bonus=_rewards().streak_bonus,
                     profile_done=done, profile_total=total, profile_points=_rewards().profile_points,
                     referral_code=member.member_code, referral_points=_rewards().referral_points,
                     referred_count=referred[0], rewarded_count=referred[1], referred_by=by,
                     can_claim_referral=by is None and is_first_purchase(member_id),
                     caps=cap_usage(member_id, now), held_points=held_task_points(member_id),
                     held_by_budget=tuple(held_task_budgets(member_id)))
