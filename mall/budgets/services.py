"""Budgets for discretionary points: tasks, campaigns, manual grants and bonus-rule uplift.

One budget model for every discretionary point (DESIGN.md #9): the points are charged to
the store's budget when a store is involved and has one, otherwise to the programme budget
HQ sets for the campaign or task kind (`budget_for`). Base points for spend are the
programme's cost of sales and never come here: a store over budget still gives every
customer their purchase base points.

The hook for other code is `issue_discretionary(...)`: it credits the member and charges the
budget in ONE transaction, or holds the grant for HQ's approval, or refuses it, per the
budget's setting. Code that writes its own ledger credit calls
`charge_discretionary(store_id, points, reason, now, programme=...)` in the same transaction
(it raises BudgetHeld / BudgetRefused when the budget can't cover the points; on BudgetHeld
the caller should not credit, and should record the grant with `hold_grant`), then records
what it issued with `record_issued`, so that `mall audit` can check each budget month's
spend against its grants.

Why 50 concurrent grants can't overshoot: the charge is ONE conditional UPDATE
(`SET used = used + p WHERE used + p <= limit`) on the budget's month row. PostgreSQL
re-checks the WHERE on the newest row version after waiting for the row lock, so two
grants can't both take the last points, and CHECK (used_points <= limit_points) refuses
any write that would overshoot even if this code were wrong. The row is updated last in the
transaction (after the member's account row is locked), so its lock is held only until commit.

Warnings: the first charge that takes a budget's month (a store's or a programme budget's) to
80% or more writes a `budget_80` alert (once per budget and month, UNIQUE), reaching 100%
writes `budget_100`; alerts show on the HQ dashboard and are emailed after commit
(`send_due_alerts`, also run by `mall jobs`), naming the store or the programme budget.
"""
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update

from .. import shoptime
from ..accounts.auditlog import audit
from ..accounts.models import Role, User
from ..accounts.services import find_by_identifier
from ..errors import DomainError, InvalidAmount, NotFound
from ..events import budget_threshold_crossed
from ..extensions import db
from ..idempotency import insert_once
from ..instore.errors import MemberFrozen
from ..pagination import paginate
from ..locks import app_locks
from ..points.ledger import cancel_pending, credit_points, lock_account
from ..points.tiers import expiry_for, tier_status
from ..proportion import portion
from ..risk.services import check_earn_velocity
from ..settings import GrantLimits
from ..settings import current as current_settings
from .models import (BudgetMonth, BudgetScope, DiscretionaryGrant, GrantKind, GrantStatus, ProgrammeBudget,
                     StoreBudget, WhenExhausted)

WARN_PCT = 80
KIND_VALUES = tuple(k.value for k in GrantKind)


class BudgetRefused(DomainError):
    message = _l("This store's budget for discretionary points is used up this month; "
                 "the points were not issued.")

    def __init__(self, *args, budget: "BudgetRef | None" = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.budget = budget


class BudgetHeld(DomainError):
    message = _l("This store's budget for discretionary points is used up this month; "
                 "the points are waiting for HQ's approval.")

    def __init__(self, *args, budget: "BudgetRef | None" = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.budget = budget


def refuse_frozen(member_id: int) -> None:
    """A frozen member receives no points by any path (grants, tasks, purchases): raises
    MemberFrozen (instore's refusal, with the API's `member_frozen` code)."""
    member = db.session.get(User, member_id)
    if member is not None and member.is_frozen:
        raise MemberFrozen()


class GrantAlreadyDecided(DomainError):
    message = _l("That grant was already decided.")


@dataclass(frozen=True)
class BudgetRef:
    """The budget a discretionary point is charged to: a store's, or a programme budget."""
    store_id: int | None
    programme_budget_id: int | None
    monthly_points: int
    when_exhausted: str
    name: str = ""  # a programme budget's name (what the member and HQ are told)

    @property
    def is_programme(self) -> bool:
        return self.programme_budget_id is not None


@dataclass(frozen=True)
class Charge:
    budgeted: bool
    used: int = 0
    limit: int = 0
    budget: BudgetRef | None = None


def month_of(now: datetime) -> str:
    return f"{now:%Y-%m}"


def budget_for(store_id: int | None, programme: tuple[str, str] | None = None, *,
               now: datetime | None = None) -> BudgetRef:
    """Where discretionary points are charged: the store's budget when a store is involved
    (its own, or the default MALL_STORE_DEFAULT_MONTHLY_POINTS), else the programme budget for
    `programme` = (scope, target), e.g. ("task", "checkin") or ("campaign", <rule key>).
    A programme budget HQ has not set is created on first use with the default
    MALL_PROGRAMME_DEFAULT_MONTHLY_POINTS, held when used up (DESIGN.md #9: nothing is ever
    unbudgeted; two workers creating it at once: UNIQUE, the loser reads the winner's row).
    Raises ValueError without a store or a programme (a caller's bug: nothing to charge)."""
    if store_id is not None:
        store = db.session.get(StoreBudget, store_id)
        if store is not None:
            return BudgetRef(store_id, None, store.monthly_points, store.when_exhausted)
        # A store HQ has not given a budget has the default one, held when used up.
        return BudgetRef(store_id, None, current_settings().grants.store_monthly_points, WhenExhausted.HOLD.value)
    if programme is None:
        raise ValueError("discretionary points need a store or a programme budget to be charged to")
    scope, target = programme
    if scope not in tuple(s.value for s in BudgetScope) or not target:
        raise ValueError(f"unknown programme {programme!r}")
    budget = _programme_budget(scope, target)
    if budget is None:
        if now is None:
            raise ValueError("a programme budget is created on first use at a given `now`")

        def create():
            db.session.add(ProgrammeBudget(scope=scope, target=target[:40], name=default_budget_name(scope, target),
                                           monthly_points=current_settings().grants.programme_monthly_points,
                                           when_exhausted=WhenExhausted.HOLD.value, updated_by=None,
                                           updated_at=now))
            db.session.flush()
        insert_once(create)
        budget = _programme_budget(scope, target)
    return BudgetRef(None, budget.id, budget.monthly_points, budget.when_exhausted, budget.name)


def default_budget_name(scope: str, target: str) -> str:
    """The name of a programme budget created on first use (HQ renames it by setting it)."""
    return f"{scope.capitalize()}: {target}"[:80]


def _programme_budget(scope: str, target: str) -> ProgrammeBudget | None:
    return db.session.scalar(select(ProgrammeBudget).where(ProgrammeBudget.scope == scope,
                                                           ProgrammeBudget.target == target[:40]))


def _owner(store_id: int | None, programme_budget_id: int | None):
    if store_id is not None:
        return BudgetMonth.store_id == store_id
    return BudgetMonth.programme_budget_id == programme_budget_id


def _month_row(ref: BudgetRef, month: str) -> None:
    """Create the budget's row for the month if it is missing (two workers may race)."""
    exists = db.session.scalar(select(BudgetMonth.id).where(_owner(ref.store_id, ref.programme_budget_id),
                                                            BudgetMonth.month == month))
    if exists is not None:
        return
    # Skipped if another grant created it first.
    insert_once(lambda: db.session.add(BudgetMonth(store_id=ref.store_id, programme_budget_id=ref.programme_budget_id,
                                                   month=month, limit_points=ref.monthly_points,
                                                   used_points=0, over_points=0)))


def _alert(kind: str, budget: BudgetRef, month: str, facts: dict, now: datetime) -> None:
    """Announce a crossed threshold of a store's or a programme budget (HQ's alerts receive
    it: one per kind, budget and month)."""
    budget_threshold_crossed.send("budgets", kind=kind, store_id=budget.store_id,
                                  programme_budget_id=budget.programme_budget_id, month=month,
                                  facts={**facts, **({"budget": budget.name} if budget.is_programme else {})},
                                  now=now)


def charge_discretionary(store_id: int | None, points: int, reason: str, now: datetime, *,
                         programme: tuple[str, str] | None = None) -> Charge:
    """Charge `points` to the budget for the month of `now`, atomically: the store's budget,
    else the programme budget for `programme` (see `budget_for`).

    There is always a budget to charge (a programme budget is created on first use).
    Raises BudgetRefused or BudgetHeld (per the budget's setting, carrying the budget) when
    the month's remaining budget is smaller than `points`; nothing is charged then.
    """
    if not isinstance(points, int) or points <= 0:
        raise InvalidAmount()
    budget = budget_for(store_id, programme, now=now)
    month = month_of(now)
    _month_row(budget, month)
    row = db.session.execute(
        update(BudgetMonth)
        .where(_owner(budget.store_id, budget.programme_budget_id), BudgetMonth.month == month,
               BudgetMonth.used_points + points <= BudgetMonth.limit_points)
        .values(used_points=BudgetMonth.used_points + points)
        .returning(BudgetMonth.id, BudgetMonth.used_points, BudgetMonth.limit_points)
        .execution_options(synchronize_session=False)).first()
    if row is None:
        if budget.when_exhausted == WhenExhausted.REFUSE.value:
            raise BudgetRefused(budget=budget)
        raise BudgetHeld(budget=budget)
    month_id, used, limit = row
    facts = {"used": used, "limit": limit, "reason": reason}
    if used * 100 >= limit * WARN_PCT:
        warned = db.session.execute(
            update(BudgetMonth).where(BudgetMonth.id == month_id, BudgetMonth.warned_at.is_(None))
            .values(warned_at=now).execution_options(synchronize_session=False)).rowcount
        if warned:
            _alert("budget_80", budget, month, facts, now)
    if used >= limit:
        exhausted = db.session.execute(
            update(BudgetMonth).where(BudgetMonth.id == month_id, BudgetMonth.exhausted_at.is_(None))
            .values(exhausted_at=now).execution_options(synchronize_session=False)).rowcount
        if exhausted:
            _alert("budget_100", budget, month, facts, now)
    return Charge(budgeted=True, used=used, limit=limit, budget=budget)


def record_issued(charge: Charge, member_id: int, points: int, *, kind: str, reason: str, source: str, key: str,
                  expires_at: datetime, entry_id: int, now: datetime, actor_id: int | None = None,
                  note: str = "") -> DiscretionaryGrant | None:
    """Record points issued against a charge just made (the audit sums these per budget
    month). Nothing to record for an unbudgeted charge."""
    if not charge.budgeted:
        return None
    grant = DiscretionaryGrant(store_id=charge.budget.store_id, programme_budget_id=charge.budget.programme_budget_id,
                               member_id=member_id, points=points, kind=kind, reason=reason, note=note[:255],
                               source=source, idempotency_key=key, expires_at=expires_at, month=month_of(now),
                               status=GrantStatus.ISSUED.value, entry_id=entry_id, actor_id=actor_id,
                               created_at=now)
    db.session.add(grant)
    db.session.flush()
    return grant


def give_back_uplift(earn_entry_id: int, *, cancelled: int, remaining_before: int, now: datetime) -> int:
    """A refund inside the return window cancelled `cancelled` of a purchase credit's
    `remaining_before` pending points: the credit's issued bonus uplift gives that share of
    its charge back to the budget month it was charged to (the one rounding rule,
    mall/proportion.py: what is left of the uplift × cancelled ÷ what was left of the credit,
    rounded down; the last cancel gives back all the rest). The grant keeps the points given
    back (`reversed_points`; all of them: status `reversed`), so the month's spend still equals
    its charged issuance. Returns the points given back (0 without an issued uplift)."""
    grant = db.session.execute(
        select(DiscretionaryGrant).where(DiscretionaryGrant.entry_id == earn_entry_id,
                                         DiscretionaryGrant.kind == GrantKind.BONUS.value,
                                         DiscretionaryGrant.status == GrantStatus.ISSUED.value)
        .with_for_update().execution_options(populate_existing=True)).scalar_one_or_none()
    if grant is None:
        return 0
    back = portion(grant.points - grant.reversed_points, cancelled, remaining_before)
    if back <= 0:
        return 0
    # The budget row last (the member's account row is locked by the cancel): one lock order.
    db.session.execute(update(BudgetMonth).where(_owner(grant.store_id, grant.programme_budget_id),
                                                 BudgetMonth.month == grant.month)
                       .values(used_points=BudgetMonth.used_points - back)
                       .execution_options(synchronize_session=False))
    grant.reversed_points += back
    if grant.reversed_points == grant.points:
        grant.status = GrantStatus.REVERSED.value
    db.session.flush()
    return back


def _existing_grant(source: str, key: str) -> DiscretionaryGrant | None:
    return db.session.scalar(select(DiscretionaryGrant).where(
        DiscretionaryGrant.source == source, DiscretionaryGrant.idempotency_key == key))


def issue_discretionary(member_id: int, points: int, *, store_id: int | None, kind: str, reason: str,
                        source: str, key: str, expires_at: datetime, now: datetime,
                        actor_id: int | None = None, note: str = "", detail: dict | None = None,
                        reference: str | None = None, device: str | None = None,
                        ip: str | None = None, programme: tuple[str, str] | None = None) -> DiscretionaryGrant | None:
    """Credit discretionary points through the store's budget. Idempotent per (source, key).

    Returns the grant: status `issued` (credited now) or `held` (waiting for HQ). Raises
    BudgetRefused when the store refuses over budget, and risk.EarningTooFast past the
    earning velocity limits (per member, and per device and address when given). Without a
    store, `programme` names the programme budget charged (created on first use); without
    either, it is the programme budget of the task kind (kind "task") or campaign named `reason`.
    """
    if kind not in KIND_VALUES:
        raise ValueError(f"unknown grant kind {kind!r}")
    if store_id is None and programme is None:  # the programme budget of this task kind or campaign
        programme = (BudgetScope.TASK.value if kind == GrantKind.TASK.value else BudgetScope.CAMPAIGN.value, reason)
    replay = _existing_grant(source, key)
    if replay is not None:
        return replay
    refuse_frozen(member_id)
    # Velocity limits per member, device and address (risk control): raises EarningTooFast.
    check_earn_velocity(member_id, device=device, ip=ip, now=now)
    detail = {**(detail or {}), "grant_kind": kind, **({"note": note} if note else {})}
    try:
        with db.session.begin_nested():
            entry = credit_points(member_id, points, reason=reason, source=source, key=key,
                                  expires_at=expires_at, now=now, store_id=store_id, actor_id=actor_id,
                                  detail=detail, reference=reference)
            # The budget row last: its lock is then held only until commit.
            charge = charge_discretionary(store_id, points, reason, now, programme=programme)
    except BudgetHeld as held:
        return hold_grant(member_id, points, store_id=held.budget.store_id, kind=kind, reason=reason, source=source,
                          key=key, expires_at=expires_at, now=now, actor_id=actor_id, note=note,
                          programme_budget_id=held.budget.programme_budget_id)
    return record_issued(charge, member_id, points, kind=kind, reason=reason, source=source, key=key,
                         expires_at=expires_at, entry_id=entry.id, now=now, actor_id=actor_id, note=note)


def hold_grant(member_id: int, points: int, *, store_id: int | None, kind: str, reason: str, source: str,
               key: str, expires_at: datetime, now: datetime, actor_id: int | None = None,
               note: str = "", programme_budget_id: int | None = None,
               budget_used_up: bool = True) -> DiscretionaryGrant:
    """Record a grant that waits for HQ's approval; nothing is credited yet. The grant is
    charged to the store's budget, or (store_id None) to the programme budget. A grant held
    because its budget is used up alerts HQ (`budget_100`); one over a staff cap just waits."""
    grant = DiscretionaryGrant(store_id=store_id, programme_budget_id=programme_budget_id, member_id=member_id,
                               points=points, kind=kind, reason=reason, note=note[:255], source=source,
                               idempotency_key=key, expires_at=expires_at, month=month_of(now),
                               status=GrantStatus.HELD.value, actor_id=actor_id, created_at=now)
    db.session.add(grant)
    db.session.flush()
    if budget_used_up and (store_id is not None or programme_budget_id is not None):
        owner = db.session.get(ProgrammeBudget, programme_budget_id) if store_id is None else None
        ref = BudgetRef(store_id, programme_budget_id, 0, "", owner.name if owner else "")
        _alert("budget_100", ref, month_of(now), {"reason": reason, "held": points}, now)
    return grant


PURCHASE_BONUS = "purchase_bonus"  # the reason of a purchase's bonus uplift (engagement/earning.py)


def _locked_grant(grant_id: int) -> DiscretionaryGrant | None:
    return db.session.execute(select(DiscretionaryGrant).where(DiscretionaryGrant.id == grant_id)
                              .with_for_update().execution_options(populate_existing=True)).scalar_one_or_none()


def decide_grant(grant_id: int, *, approve: bool, actor_id: int, note: str, now: datetime) -> DiscretionaryGrant:
    """HQ approves (credits the points, counted as over budget) or rejects a held grant.

    A purchase's bonus (reason `purchase_bonus`) is credited pending until the purchase's
    return window ends (the grant was held when the purchase earned, so the window ends at
    the grant's created_at + the return window), as the purchase's own points are: a refund
    inside the window cancels it (earning.purchase_refunded), and it is never spendable early.
    A refund already rejected the grant: GrantAlreadyDecided.

    Locks the member's account row before the grant's, as a refund forfeiting the grant does
    (one lock order)."""
    if not (note or "").strip():
        raise DomainError(_l("Give a reason; it is kept in the audit log."), field="note")
    grant = db.session.get(DiscretionaryGrant, grant_id)
    if grant is None:
        raise NotFound()
    with app_locks().hold(f"points:{grant.member_id}"):
        lock_account(grant.member_id, now)
        grant = _locked_grant(grant_id)
        if grant.status != GrantStatus.HELD.value:
            raise GrantAlreadyDecided()
        if approve:
            refuse_frozen(grant.member_id)  # frozen since the grant was held: reject it instead
            expires_at = grant.expires_at if grant.expires_at > now else None
            if expires_at is None:
                raise DomainError(_l("These points would already have expired; reject the grant instead."))
            days = current_settings().return_window_days
            pending_until = grant.created_at + timedelta(days=days) \
                if grant.kind == GrantKind.BONUS.value and grant.reason == PURCHASE_BONUS and days > 0 else None
            entry = credit_points(grant.member_id, grant.points, reason=grant.reason, source=grant.source,
                                  key=grant.idempotency_key, expires_at=expires_at, now=now,
                                  store_id=grant.store_id, actor_id=actor_id, queue=False,
                                  detail={"grant_kind": grant.kind, "approved_over_budget": True},
                                  pending_until=pending_until)
            db.session.execute(update(BudgetMonth).where(_owner(grant.store_id, grant.programme_budget_id),
                                                         BudgetMonth.month == grant.month)
                               .values(over_points=BudgetMonth.over_points + grant.points)
                               .execution_options(synchronize_session=False))
            grant.status, grant.entry_id = GrantStatus.APPROVED.value, entry.id
        else:
            grant.status = GrantStatus.REJECTED.value
        grant.decided_by, grant.decided_at, grant.decision_note = actor_id, now, note.strip()[:255]
    audit(actor_id, "grant_approved" if approve else "grant_rejected", "grant", grant.id, note, now,
          member_id=grant.member_id, store_id=grant.store_id, points=grant.points)
    return grant


def forfeit_grant(source: str, key: str, *, member_id: int, note: str, now: datetime,
                  reference: str | None = None) -> DiscretionaryGrant | None:
    """The grant (source, key) lost its reason (its purchase was refunded): a held grant is
    rejected with `note` (nothing is ever credited; HQ sees it rejected, audit-logged with no
    actor: the system); an approved grant whose points are still pending has them cancelled
    and its approval counted back (`reversed_points`, over_points). An issued grant is left to
    the purchase's own cancel (give_back_uplift); points already released are left as they
    are. Returns the grant, or None when there is none. Idempotent.

    Locks the member's account row before the grant's, as decide_grant does."""
    grant = _existing_grant(source, key)
    if grant is None or grant.member_id != member_id:
        return None
    lock_account(member_id, now)
    grant = _locked_grant(grant.id)
    if grant.status == GrantStatus.HELD.value:
        grant.status, grant.decided_at, grant.decision_note = GrantStatus.REJECTED.value, now, note[:255]
        audit(None, "grant_rejected", "grant", grant.id, note, now, member_id=member_id,
              store_id=grant.store_id, points=grant.points)
    elif grant.status == GrantStatus.APPROVED.value and grant.entry_id is not None \
            and grant.reversed_points < grant.points:
        entry = cancel_pending(grant.entry_id, reason="purchase_refund", source="grant-forfeit", key=f"grant:{grant.id}",
                               now=now, store_id=grant.store_id, reference=reference,
                               detail={"grant_id": grant.id, "pending": True, "note": note[:255]})
        if entry is not None:
            back = -entry.points
            db.session.execute(update(BudgetMonth).where(_owner(grant.store_id, grant.programme_budget_id),
                                                         BudgetMonth.month == grant.month)
                               .values(over_points=BudgetMonth.over_points - back)
                               .execution_options(synchronize_session=False))
            grant.reversed_points += back
            audit(None, "grant_forfeited", "grant", grant.id, note, now, member_id=member_id,
                  store_id=grant.store_id, points=back)
    db.session.flush()
    return grant


def set_budget(store_id: int, monthly_points: int, when_exhausted: str, *, alert_email: str | None,
               actor_id: int, now: datetime) -> StoreBudget:
    """Set a store's monthly budget. This month's limit follows at once; if the store has
    already used more, the month is simply full (the limit can't go below what was used)."""
    if not isinstance(monthly_points, int) or monthly_points <= 0:
        raise InvalidAmount(field="monthly_points")
    if when_exhausted not in (WhenExhausted.HOLD.value, WhenExhausted.REFUSE.value):
        raise DomainError(field="when_exhausted")
    budget = db.session.get(StoreBudget, store_id)
    before = {"monthly_points": budget.monthly_points, "when_exhausted": budget.when_exhausted} if budget else {}
    if budget is None:
        budget = StoreBudget(store_id=store_id)
        db.session.add(budget)
    budget.monthly_points, budget.when_exhausted = monthly_points, when_exhausted
    budget.alert_email, budget.updated_by, budget.updated_at = alert_email or None, actor_id, now
    db.session.flush()
    month = db.session.execute(select(BudgetMonth).where(BudgetMonth.store_id == store_id,
                                                         BudgetMonth.month == month_of(now))
                               .with_for_update()).scalar_one_or_none()
    if month is not None:
        month.limit_points = max(monthly_points, month.used_points)
    audit(actor_id, "budget_set", "store", store_id, "", now, before=before,
          after={"monthly_points": monthly_points, "when_exhausted": when_exhausted})
    return budget


def set_programme_budget(scope: str, target: str, name: str, monthly_points: int, when_exhausted: str, *,
                         actor_id: int, now: datetime) -> ProgrammeBudget:
    """Set the monthly budget for a campaign (scope "campaign", target: the earning rule's
    key) or a task kind (scope "task", target: checkin, profile or referral). This month's
    limit follows at once, never below what was used."""
    target = (target or "").strip()
    if scope not in tuple(s.value for s in BudgetScope) or not target:
        raise DomainError(field="target")
    if not isinstance(monthly_points, int) or monthly_points <= 0:
        raise InvalidAmount(field="monthly_points")
    if when_exhausted not in (WhenExhausted.HOLD.value, WhenExhausted.REFUSE.value):
        raise DomainError(field="when_exhausted")
    budget = db.session.scalar(select(ProgrammeBudget).where(ProgrammeBudget.scope == scope,
                                                             ProgrammeBudget.target == target))
    before = {"monthly_points": budget.monthly_points, "when_exhausted": budget.when_exhausted} if budget else {}
    if budget is None:
        budget = ProgrammeBudget(scope=scope, target=target)
        db.session.add(budget)
    budget.name = (name or "").strip()[:80] or target
    budget.monthly_points, budget.when_exhausted = monthly_points, when_exhausted
    budget.updated_by, budget.updated_at = actor_id, now
    db.session.flush()
    month = db.session.execute(select(BudgetMonth).where(BudgetMonth.programme_budget_id == budget.id,
                                                         BudgetMonth.month == month_of(now))
                               .with_for_update()).scalar_one_or_none()
    if month is not None:
        month.limit_points = max(monthly_points, month.used_points)
    audit(actor_id, "programme_budget_set", "programme_budget", budget.id, "", now, before=before,
          after={"scope": scope, "target": target, "monthly_points": monthly_points,
                 "when_exhausted": when_exhausted})
    return budget


def find_member(query: str) -> User:
    """A member by email, mobile number or member code; NotFound otherwise."""
    text = (query or "").strip()
    user = find_by_identifier(text) or db.session.scalar(select(User).where(User.member_code == text.upper()))
    if user is None or user.role != Role.MEMBER.value:
        raise NotFound(_l("No member has that email, mobile number or member code."), field="member")
    return user


def manual_grant(store_id: int, member_query: str, points: int, note: str, *, key: str, actor_id: int,
                 now: datetime, limits: GrantLimits | None = None,
                 timezone: str | None = None) -> DiscretionaryGrant | None:
    """An HQ or store grant of discretionary points, through the store's budget.
    The member's points expire as their tier's purchase points do. Raises MemberFrozen for a
    frozen member.

    `limits` are a store staff member's caps (HQ's own grants pass None): a grant above the
    per-grant cap, or one that takes the store's staff grants of the shop-local day (in
    `timezone`) above the daily cap, is held for HQ's approval instead of credited. The
    store's budget row is locked first, so two staff grants can't both fit under the cap."""
    member = find_member(member_query)
    if not (note or "").strip():
        raise DomainError(_l("Give a reason for the grant."), field="note")
    if points is None or not isinstance(points, int) or points <= 0:
        raise InvalidAmount(field="points")
    refuse_frozen(member.id)
    expires_at = expiry_for(tier_status(member.id, now).tier, now)
    source, grant_key = "manual-grant", f"{actor_id}:{key}"
    grant = _existing_grant(source, grant_key)
    if grant is None and limits is not None and _over_staff_caps(store_id, points, limits, timezone, now):
        grant = hold_grant(member.id, points, store_id=store_id, kind=GrantKind.MANUAL.value, reason="adjustment",
                           source=source, key=grant_key, expires_at=expires_at, now=now, actor_id=actor_id,
                           note=note.strip(), budget_used_up=False)
    elif grant is None:
        grant = issue_discretionary(member.id, points, store_id=store_id, kind=GrantKind.MANUAL.value,
                                    reason="adjustment", source=source, key=grant_key,
                                    expires_at=expires_at, now=now, actor_id=actor_id, note=note.strip())
    audit(actor_id, "manual_grant", "user", member.id, note, now, store_id=store_id, points=points,
          status=grant.status if grant else "issued")
    return grant


def _over_staff_caps(store_id: int, points: int, limits: GrantLimits, timezone: str | None,
                     now: datetime) -> bool:
    """True when a staff grant of `points` breaks a cap: alone, or with the store's staff
    grants issued earlier on the same shop-local day. Locks the store's month row first."""
    if points > limits.staff_grant_max:
        return True
    month = month_of(now)
    _month_row(budget_for(store_id), month)
    db.session.execute(select(BudgetMonth.id).where(BudgetMonth.store_id == store_id, BudgetMonth.month == month)
                       .with_for_update())
    start, end = shoptime.day_bounds_utc(shoptime.local_day(now, timezone), timezone)
    today = db.session.scalar(select(func.coalesce(func.sum(DiscretionaryGrant.points), 0))
                              .join(User, User.id == DiscretionaryGrant.actor_id).where(
        User.role == Role.STORE_STAFF.value, DiscretionaryGrant.store_id == store_id, DiscretionaryGrant.kind == GrantKind.MANUAL.value,
        DiscretionaryGrant.source == "manual-grant",
        DiscretionaryGrant.status.in_((GrantStatus.ISSUED.value, GrantStatus.APPROVED.value)),
        DiscretionaryGrant.created_at >= start, DiscretionaryGrant.created_at < end))
    return today + points > limits.staff_daily_max


def budget_left(store_id: int, now: datetime) -> int:
    """Points left in the store's budget for the month of `now` (a month not started yet: all)."""
    row = db.session.execute(select(BudgetMonth.limit_points, BudgetMonth.used_points).where(
        BudgetMonth.store_id == store_id, BudgetMonth.month == month_of(now))).first()
    if row is not None:
        return row[0] - row[1]
    budget = db.session.get(StoreBudget, store_id)
    return budget.monthly_points if budget else current_settings().grants.store_monthly_points


def held_grants(page: int = 1, per_page: int = 20):
    """HQ's queue: each held grant with the member it is for ([(grant, member)], page, pages),
    the oldest first, so HQ sees whom it decides for without a query per row."""
    query = (select(DiscretionaryGrant, User).join(User, User.id == DiscretionaryGrant.member_id)
             .where(DiscretionaryGrant.status == GrantStatus.HELD.value))
    p = paginate(query.order_by(DiscretionaryGrant.created_at, DiscretionaryGrant.id), page, per_page, rows=True)
    return [tuple(row) for row in p.items], p.page, p.pages
