"""One budget charge for a batch of discretionary grants (the queued check-ins' credit).

`charge_in_order` decides, for amounts in order, exactly what charging them one by one with
`charge_discretionary` would: each amount fits when the month's used + amount <= limit,
else it is held or refused per the budget's setting, and a later, smaller amount may still
fit. It writes the month row once: one conditional UPDATE when the whole batch fits (the
burst's usual case), else the row is locked, the amounts that fit are picked in order and
charged with one UPDATE. The warnings (budget_80, budget_100) are written once per budget and
month as the single path writes them; the facts carry the month's use after the batch.

`record_many` writes the batch's grants (issued or held) with one multi-row INSERT; held
grants alert HQ once per batch (budget_100, as hold_grant does per grant).
"""
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select, update

from ..extensions import db
from .models import BudgetMonth, DiscretionaryGrant, GrantStatus, WhenExhausted
from .services import WARN_PCT, BudgetRef, _alert, _month_row, _owner, budget_for, month_of


@dataclass(frozen=True)
class BatchCharge:
    budget: BudgetRef
    month: str
    fits: list[bool]        # per amount, in order: charged (True) or held / refused (False)

    @property
    def refuses(self) -> bool:
        return self.budget.when_exhausted == WhenExhausted.REFUSE.value


def charge_in_order(amounts: list[int], reason: str, now: datetime, *, store_id: int | None = None,
                    programme: tuple[str, str] | None = None) -> BatchCharge:
    """Charge the amounts (all positive) that fit, in order, to the budget month of `now`."""
    if any(not isinstance(a, int) or a <= 0 for a in amounts):
        raise ValueError("batch charges need positive points")
    budget = budget_for(store_id, programme, now=now)
    month = month_of(now)
    if not amounts:
        return BatchCharge(budget, month, [])
    where = (_owner(budget.store_id, budget.programme_budget_id), BudgetMonth.month == month)
    returned = (BudgetMonth.id, BudgetMonth.used_points, BudgetMonth.limit_points, BudgetMonth.warned_at,
                BudgetMonth.exhausted_at)
    total = sum(amounts)
    row = db.session.execute(update(BudgetMonth).where(*where, BudgetMonth.used_points + total <= BudgetMonth.limit_points)
                             .values(used_points=BudgetMonth.used_points + total).returning(*returned)
                             .execution_options(synchronize_session=False)).first()
    fits = [True] * len(amounts)
    if row is None:  # some don't fit (or the month has no row yet): pick in order under the row lock
        _month_row(budget, month)
        used, limit = db.session.execute(select(BudgetMonth.used_points, BudgetMonth.limit_points)
                                         .where(*where).with_for_update()).one()
        for i, amount in enumerate(amounts):
            fits[i] = used + amount <= limit
            used += amount if fits[i] else 0
        taken = sum(a for a, fit in zip(amounts, fits) if fit)
        if taken:
            row = db.session.execute(update(BudgetMonth).where(*where)
                                     .values(used_points=BudgetMonth.used_points + taken).returning(*returned)
                                     .execution_options(synchronize_session=False)).first()
    if row is not None:
        _warn(budget, month, row, reason, now)
    return BatchCharge(budget, month, fits)


def _warn(budget: BudgetRef, month: str, row, reason: str, now: datetime) -> None:
    month_id, used, limit, warned_at, exhausted_at = row
    facts = {"used": used, "limit": limit, "reason": reason}
    if warned_at is None and used * 100 >= limit * WARN_PCT:
        if db.session.execute(update(BudgetMonth).where(BudgetMonth.id == month_id, BudgetMonth.warned_at.is_(None))
                              .values(warned_at=now).execution_options(synchronize_session=False)).rowcount:
            _alert("budget_80", budget, month, facts, now)
    if exhausted_at is None and used >= limit:
        if db.session.execute(update(BudgetMonth).where(BudgetMonth.id == month_id,
                                                        BudgetMonth.exhausted_at.is_(None))
                              .values(exhausted_at=now).execution_options(synchronize_session=False)).rowcount:
            _alert("budget_100", budget, month, facts, now)


@dataclass(frozen=True)
class BatchGrant:
    member_id: int
    points: int
    key: str
    expires_at: datetime
    now: datetime
    entry_id: int | None    # the ledger entry of an issued grant; None for a held one


def record_many(charge: BatchCharge, grants: list[BatchGrant], *, kind: str, reason: str, source: str,
                note: str = "") -> None:
    """The batch's grants against `charge`'s budget: issued (with an entry) or held (waiting
    for HQ). One INSERT; one budget_100 alert when any were held."""
    if not grants:
        return
    budget = charge.budget
    db.session.connection().execute(insert(DiscretionaryGrant.__table__), [dict(
        store_id=budget.store_id, programme_budget_id=budget.programme_budget_id, member_id=g.member_id,
        points=g.points, reversed_points=0, kind=kind, reason=reason, note=note[:255], source=source,
        idempotency_key=g.key, expires_at=g.expires_at, month=month_of(g.now),
        status=GrantStatus.ISSUED.value if g.entry_id is not None else GrantStatus.HELD.value,
        entry_id=g.entry_id, actor_id=None, decided_by=None, decided_at=None, decision_note=None,
        created_at=g.now) for g in grants])
    held = [g for g in grants if g.entry_id is None]
    if held:
        _alert("budget_100", budget, charge.month, {"reason": reason, "held": sum(g.points for g in held)},
               max(g.now for g in held))
