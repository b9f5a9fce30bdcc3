"""Batch credits: many members' earn entries in a constant number of statements (issue 16's
check-in burst), with the same rows `ledger.credit_points` writes one at a time.

`lock_accounts` locks (and opens) every account of the batch in member order, so two batches
or a batch and a single writer can't deadlock on account rows; `credit_many` then writes the
entries with one multi-row INSERT, their lots with another and the balances with one UPDATE.
The member's Redis lock is not taken: it only queues writers cheaply, the account row lock is
the guard (ledger.py), and a batch holding hundreds of Redis leases would only slow it down.

Idempotency is the ledger's: UNIQUE (source, idempotency_key). The caller reads replays
under the account locks first; the INSERT still says ON CONFLICT DO NOTHING, and a batch
whose insert skipped a row raises (the transaction rolls back, and the retry sees the replay)
rather than leave a balance moved without its entry.
"""
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import case, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ..events import points_credited_many
from ..extensions import db
from .models import EntryKind, LedgerEntry, PointLot, PointsAccount


@dataclass(frozen=True)
class Credit:
    """One earn entry to write: like credit_points' arguments (no pending, no spend)."""
    member_id: int
    points: int
    reason: str
    source: str
    key: str
    now: datetime
    expires_at: datetime
    detail: dict = field(default_factory=dict)


@dataclass(frozen=True)
class CreditedEntry:
    """What the batch event carries for each entry written (receivers read, never write it)."""
    id: int
    member_id: int
    points: int
    source: str
    reason: str
    detail: dict
    created_at: datetime


def _insert():
    return pg_insert if db.engine.dialect.name == "postgresql" else sqlite_insert


def lock_accounts(opened_at: dict[int, datetime]) -> dict[int, int]:
    """Lock the accounts of these members (member_id -> when a missing one is opened) for this
    transaction, in member order, opening the missing ones; returns member_id -> balance.
    One statement when every member has an account, three otherwise."""
    members = sorted(opened_at)

    def lock(ids):
        return dict(db.session.execute(select(PointsAccount.member_id, PointsAccount.balance)
                                       .where(PointsAccount.member_id.in_(ids))
                                       .order_by(PointsAccount.member_id).with_for_update()).all())
    balances = lock(members) if members else {}
    missing = [m for m in members if m not in balances]
    if missing:  # first points for these members; a racing opener wins harmlessly
        db.session.execute(_insert()(PointsAccount).values(
            [dict(member_id=m, balance=0, pending=0, updated_at=opened_at[m]) for m in missing])
            .on_conflict_do_nothing(index_elements=["member_id"]))
        balances.update(lock(missing))
    return balances


def credit_many(credits: list[Credit], balances: dict[int, int]) -> list[CreditedEntry]:
    """Write the credits, in order, for members whose accounts `lock_accounts` holds (balances
    as it returned them; updated here). Three statements whatever the batch size: the entries,
    their lots, the balances. Sends points_credited_many once. Flushes nothing else."""
    if not credits:
        return []
    if any(not isinstance(c.points, int) or c.points <= 0 or c.expires_at <= c.now for c in credits):
        raise ValueError("batch credits need positive points and an expiry after their time")
    running, rows, last_at = dict(balances), [], {}
    for c in credits:
        running[c.member_id] += c.points
        last_at[c.member_id] = c.now
        rows.append(dict(member_id=c.member_id, kind=EntryKind.EARN.value, points=c.points,
                         balance_after=running[c.member_id], reason=c.reason, reference=None,
                         detail=c.detail, source=c.source, idempotency_key=c.key, spend_minor=0,
                         reverses_id=None, store_id=None, actor_id=None, created_at=c.now))
    # executemany: SQLAlchemy sends it as multi-row INSERTs ("insertmanyvalues") from one
    # cached compilation; values([...]) would compile a new 7,000-parameter statement each time.
    written = db.session.connection().execute(_insert()(LedgerEntry.__table__).on_conflict_do_nothing(
        index_elements=["source", "idempotency_key"]).returning(
        LedgerEntry.id, LedgerEntry.source, LedgerEntry.idempotency_key), rows).all()
    if len(written) != len(rows):
        raise RuntimeError("a batch credit's key was used meanwhile; the batch is rolled back and read again")
    ids = {(source, key): entry_id for entry_id, source, key in written}
    entries = [CreditedEntry(ids[(c.source, c.key)], c.member_id, c.points, c.source, c.reason, c.detail, c.now)
               for c in credits]
    db.session.connection().execute(insert(PointLot.__table__), [
        dict(member_id=c.member_id, entry_id=e.id, amount=c.points, remaining=c.points, expires_at=c.expires_at,
             created_at=c.now, pending_until=None, pending_state=None) for c, e in zip(credits, entries)])
    moved = {m: running[m] - balances[m] for m in last_at}
    db.session.execute(update(PointsAccount).where(PointsAccount.member_id.in_(list(moved)))
                       .values(balance=PointsAccount.balance + case(moved, value=PointsAccount.member_id),
                               updated_at=case(last_at, value=PointsAccount.member_id))
                       .execution_options(synchronize_session=False))
    balances.update(running)
    points_credited_many.send("points", entries=entries, now=max(c.now for c in credits))
    return entries
