"""The points ledger: credit, spend, refund and expire.

Every change to a balance is one LedgerEntry plus the lot movements behind it, written in
the caller's transaction (services flush; the request, job or CLI command commits).

Concurrency: all writers for one member first take the member's lock (Redis or in-process,
to queue cheaply), then lock the member's PointsAccount row (SELECT ... FOR UPDATE on
PostgreSQL) and change the balance with a conditional UPDATE. The CHECK constraints on
balances and lots are the last guard, so even a lapsed Redis lease cannot overspend.

Idempotency: (source, idempotency_key) is unique. Applying the same intent twice returns
the first entry and changes nothing; the same key with different points is refused.

Pending points (DESIGN.md #10): a credit with `pending_until` is in the balance and in
`account.pending` until `release_due_pending` (run by `mall jobs`) releases it, or a refund
inside the window cancels it (`cancel_pending`). Spends, expiry and clawbacks only ever
touch lots that are not pending, and every balance UPDATE keeps `balance - pending >= 0`
(CHECK (pending <= balance) behind it), so pending points are never spent early.
"""
import json
from datetime import datetime

from sqlalchemy import case, select, text, update
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from ..errors import DomainError, InsufficientPoints, InvalidAmount, RefundTooLarge
from ..events import pending_cancelled, points_credited, points_expired
from ..extensions import db
from ..idempotency import insert_once
from ..locks import app_locks
from ..rawsql import execute, is_postgresql
from ..unit_of_work import note_write
from .models import EntryKind, LedgerEntry, LotMovement, PointLot, PointsAccount


class IdempotencyConflict(DomainError):
    """The key was used before for a different amount: a client bug, never a retry."""


def _locks():
    return app_locks()


def open_account(member_id: int, now: datetime) -> PointsAccount:
    account = db.session.get(PointsAccount, member_id)
    if account is None:
        account = PointsAccount(member_id=member_id, balance=0, updated_at=now)
        db.session.add(account)
        db.session.flush()
    return account


def _existing(source: str, key: str) -> LedgerEntry | None:
    return db.session.scalar(
        select(LedgerEntry).where(LedgerEntry.source == source, LedgerEntry.idempotency_key == key))


def _once_per_key(member_id: int, source: str, key: str, write):
    """Under the member's lock: the line written earlier for (source, key), else write() once
    (a concurrent writer of the same key that wins the insert makes this a replay)."""
    with _locks().hold(f"points:{member_id}"):
        replay = _existing(source, key)
        if replay is not None:
            return replay
        return insert_once(write, lambda: _existing(source, key))[0]


def _replayed(source: str, key: str, points: int) -> LedgerEntry | None:
    entry = _existing(source, key)
    if entry is not None and entry.points != points:
        raise IdempotencyConflict()
    return entry


def lock_account(member_id: int, now: datetime, *, open_missing: bool = True) -> PointsAccount | None:
    """Lock the member's account row for this transaction: serialises their checkouts too.
    `open_missing=False` only locks an existing row (None without one) and writes nothing."""
    return _locked_account(member_id, now, open_missing=open_missing)


def _locked_account(member_id: int, now: datetime, *, open_missing: bool = True) -> PointsAccount | None:
    def lock():
        return db.session.execute(
            select(PointsAccount).where(PointsAccount.member_id == member_id)
            .with_for_update().execution_options(populate_existing=True)
        ).scalar_one_or_none()
    account = lock()
    if account is None and open_missing:  # first points for this member
        open_account(member_id, now)
        account = lock()
    return account


NOT_PENDING = PointLot.pending_state.is_(None) | (PointLot.pending_state != "pending")


def spendable_of(account: PointsAccount) -> int:
    return account.balance - account.pending


def _move_balance(account: PointsAccount, delta: int, now: datetime, pending_delta: int = 0) -> int:
    """Apply delta with one conditional UPDATE: the spendable part (balance - pending) never
    goes below zero, whatever else is running."""
    result = db.session.execute(
        update(PointsAccount)
        .where(PointsAccount.member_id == account.member_id,
               PointsAccount.balance + delta - (PointsAccount.pending + pending_delta) >= 0)
        .values(balance=PointsAccount.balance + delta, pending=PointsAccount.pending + pending_delta,
                updated_at=now)
        .returning(PointsAccount.balance, PointsAccount.pending)
        .execution_options(synchronize_session=False)
    ).first()
    if result is None:
        raise InsufficientPoints(needed=-delta, available=spendable_of(account))
    set_committed_value(account, "balance", result[0])  # what the UPDATE returned; no re-read
    set_committed_value(account, "pending", result[1])
    return result[0]


def _write_entry(account, *, kind, points, reason, source, key, now, pending_delta: int = 0,
                 **fields) -> LedgerEntry:
    balance_after = _move_balance(account, points, now, pending_delta)
    entry = LedgerEntry(member_id=account.member_id, kind=kind.value, points=points,
                        balance_after=balance_after, reason=reason, source=source,
                        idempotency_key=key, created_at=now, detail=fields.pop("detail", None) or {},
                        **fields)
    db.session.add(entry)
    db.session.flush()
    return entry


def _guarded(source: str, key: str, points: int, write):
    """Run `write` once per (source, key), also when two workers race on the same key."""
    replay = _replayed(source, key, points)
    if replay is not None:
        return replay
    return insert_once(write, lambda: _replayed(source, key, points))[0]


def credit_points(member_id: int, points: int, *, reason: str, source: str, key: str,
                  expires_at: datetime, now: datetime, reference: str | None = None,
                  detail: dict | None = None, spend_minor: int = 0, store_id: int | None = None,
                  actor_id: int | None = None, queue: bool = True,
                  pending_until: datetime | None = None) -> LedgerEntry:
    """Credit points as a new lot expiring at `expires_at`. Idempotent per (source, key).

    With `pending_until` in the future the lot is pending (a purchase inside its return
    window): in the balance, not spendable, until `release_due_pending` releases it.
    `queue=False` skips the member's lock for a caller that already holds it (and the
    account row), as capped task grants do to read their caps and credit in one step."""
    if not isinstance(points, int) or points <= 0:
        raise InvalidAmount()
    if expires_at <= now:
        raise InvalidAmount(field="expires_at")
    pending = pending_until is not None and pending_until > now

    def write():
        account = _locked_account(member_id, now)
        entry = _write_entry(account, kind=EntryKind.EARN, points=points, reason=reason,
                             source=source, key=key, now=now, reference=reference, detail=detail,
                             spend_minor=spend_minor, store_id=store_id, actor_id=actor_id,
                             pending_delta=points if pending else 0)
        db.session.add(PointLot(member_id=member_id, entry_id=entry.id, amount=points,
                                remaining=points, expires_at=expires_at, created_at=now,
                                pending_until=pending_until if pending else None,
                                pending_state="pending" if pending else None))
        db.session.flush()
        points_credited.send("points", entry=entry, now=now)
        return entry

    if not queue:
        return _guarded(source, key, points, write)
    with _locks().hold(f"points:{member_id}"):
        return _guarded(source, key, points, write)


def claw_back(member_id: int, points: int, *, reason: str, source: str, key: str, now: datetime,
              first_entry_id: int | None = None, spend_minor: int = 0, reference: str | None = None,
              detail: dict | None = None, store_id: int | None = None) -> LedgerEntry | None:
    """Take up to `points` back from the member (a refunded purchase), never below zero: from
    `first_entry_id`'s lot first, then soonest-expiring first. Returns the adjustment line,
    or None when there was nothing to take. Idempotent per (source, key): a replay returns
    the first line whatever the balance is now. `spend_minor` comes off the tier window."""
    def write():
        account = _locked_account(member_id, now)
        _expire_due_lots(account, now)  # expired points are never taken back as if live
        take = min(points, spendable_of(account))  # pending points are cancelled, never clawed
        if take <= 0:
            return None
        entry = _write_entry(account, kind=EntryKind.ADJUST, points=-take, reason=reason, source=source,
                             key=key, now=now, reference=reference, detail=detail, spend_minor=-spend_minor,
                             store_id=store_id)
        _take_from_lots(member_id, entry, take, first_entry_id)
        return entry

    return _once_per_key(member_id, source, key, write)


def take_back_spend(member_id: int, spend_minor: int, *, reason: str, source: str, key: str, now: datetime,
                    reference: str | None = None, detail: dict | None = None,
                    store_id: int | None = None) -> LedgerEntry | None:
    """A refund that takes back no points (its lines earned none, or nothing could be taken
    now) still takes its spend off the tier window: one adjust line of 0 points and
    -`spend_minor` (the one kind of 0-point line the schema allows). No balance or lot moves.
    Returns None for no spend. Idempotent per (source, key)."""
    if spend_minor <= 0:
        return None

    def write():
        account = _locked_account(member_id, now)
        return _write_entry(account, kind=EntryKind.ADJUST, points=0, reason=reason, source=source, key=key,
                            now=now, reference=reference, detail=detail, spend_minor=-spend_minor,
                            store_id=store_id)

    return _once_per_key(member_id, source, key, write)


def spend_points(member_id: int, points: int, *, reason: str, source: str, key: str,
                 now: datetime, reference: str | None = None, detail: dict | None = None,
                 actor_id: int | None = None, queue: bool = True,
                 locked: PointsAccount | None = None) -> LedgerEntry:
    """Take points, soonest-expiring lots first. Raises InsufficientPoints, never goes negative.

    Lots already past their expiry are expired first, so expired points are never spent
    even when the expiry job has not run yet. `queue=False` skips the member's lock for a
    caller that already holds the member's account row (lock_account), as checkout does.
    `locked` is that row, for a caller whose key names a row it has just inserted (a new
    order): such a key cannot have been used, so neither the row is locked again nor the key
    looked up first; the UNIQUE (source, key) constraint still refuses a second use.
    """
    if not isinstance(points, int) or points <= 0:
        raise InvalidAmount()

    def write():
        account = locked if locked is not None else _locked_account(member_id, now)
        # One locking read serves both steps: the lots past expiry are expired, the rest
        # (soonest-expiring first, as _take_from_lots orders them) are spent from.
        lots = _live_lots(member_id)
        _expire_due_lots(account, now, lots=[lot for lot in lots if lot.expires_at <= now])
        live = [lot for lot in lots if lot.remaining > 0]
        if spendable_of(account) < points:
            raise InsufficientPoints(needed=points, available=spendable_of(account))
        if locked is not None and len(lots) == len(live) and is_postgresql():
            return _spend_in_one_statement(account, points, live, reason=reason, source=source, key=key,
                                           now=now, reference=reference, detail=detail, actor_id=actor_id)
        entry = _write_entry(account, kind=EntryKind.SPEND, points=-points, reason=reason,
                             source=source, key=key, now=now, reference=reference, detail=detail,
                             actor_id=actor_id)
        _take_from_lots(member_id, entry, points, lots=live)
        return entry

    if locked is not None:
        return write()
    if not queue:
        return _guarded(source, key, -points, write)
    with _locks().hold(f"points:{member_id}"):
        return _guarded(source, key, -points, write)


# One round trip for the balance UPDATE, the entry, the lots and their movements (PostgreSQL,
# data-modifying CTEs, issue 15). The conditional balance UPDATE still guards the spendable
# balance: without its row the entry has no balance_after and the whole statement inserts
# nothing. The lots are the caller's locked rows; what each gives is computed here, as
# _take_from_lots does. Bound parameters throughout; the statement text depends only on the
# number of lots touched.
_SPEND_SQL = """
WITH acct AS (
  UPDATE points_accounts SET balance = balance - :points, updated_at = :now
  WHERE member_id = :member_id AND balance - :points - pending >= 0
  RETURNING balance, pending),
entry AS (
  INSERT INTO ledger_entries (member_id, kind, points, balance_after, reason, reference, detail, source,
                              idempotency_key, spend_minor, actor_id, created_at)
  SELECT :member_id, :kind, -:points, acct.balance, :reason, :reference, CAST(:detail AS JSON), :source,
         :key, 0, :actor_id, :now FROM acct
  RETURNING id, balance_after),
taken (lot_id, points) AS (VALUES {values}),
lots AS (
  UPDATE point_lots SET remaining = point_lots.remaining - taken.points FROM taken
  WHERE point_lots.id = taken.lot_id AND EXISTS (SELECT 1 FROM entry)
  RETURNING point_lots.id),
moves AS (
  INSERT INTO lot_movements (entry_id, lot_id, points)
  SELECT entry.id, taken.lot_id, -taken.points FROM entry, taken)
SELECT entry.id, entry.balance_after, acct.pending FROM entry, acct
"""


def _spend_in_one_statement(account: PointsAccount, points: int, lots: list[PointLot], *, reason, source, key,
                            now, reference, detail, actor_id) -> LedgerEntry:
    taken, left = [], points
    for lot in lots:
        take = min(lot.remaining, left)
        taken.append((lot, take))
        left -= take
        if left == 0:
            break
    if left:  # balance and lots disagree: refuse rather than write a half-backed spend
        raise RuntimeError(f"member {account.member_id}: lots short by {left}")
    params = {"points": points, "now": now, "member_id": account.member_id, "kind": EntryKind.SPEND.value,
              "reason": reason, "reference": reference, "detail": json.dumps(detail or {}), "source": source,
              "key": key, "actor_id": actor_id}
    values = []
    for n, (lot, take) in enumerate(taken):
        params[f"lot{n}"], params[f"take{n}"] = lot.id, take
        values.append(f"(CAST(:lot{n} AS INTEGER), CAST(:take{n} AS INTEGER))")
    row = db.session.execute(text(_SPEND_SQL.format(values=", ".join(values))), params).first()
    if row is None:
        raise InsufficientPoints(needed=points, available=spendable_of(account))
    note_write()
    entry_id, balance_after, pending = row
    set_committed_value(account, "balance", balance_after)
    set_committed_value(account, "pending", pending)
    set_committed_value(account, "updated_at", now)
    for lot, take in taken:
        set_committed_value(lot, "remaining", lot.remaining - take)
    entry = LedgerEntry(id=entry_id, member_id=account.member_id, kind=EntryKind.SPEND.value, points=-points,
                        balance_after=balance_after, reason=reason, reference=reference, detail=detail or {},
                        source=source, idempotency_key=key, spend_minor=0, reverses_id=None, store_id=None,
                        actor_id=actor_id, created_at=now)
    make_transient_to_detached(entry)  # the row is written: the session holds it without a flush
    db.session.add(entry)
    return entry


def _live_lots(member_id: int, first_entry_id: int | None = None) -> list[PointLot]:
    """The member's lots with points left and not pending, locked, in the order they are
    spent: soonest-expiring first, `first_entry_id`'s own lot ahead of all when given."""
    first = case((PointLot.entry_id == first_entry_id, 0), else_=1) if first_entry_id else PointLot.expires_at
    return list(db.session.scalars(
        select(PointLot).where(PointLot.member_id == member_id, PointLot.remaining > 0, NOT_PENDING)
        .order_by(first, PointLot.expires_at, PointLot.id).with_for_update()))


def _take_from_lots(member_id: int, entry: LedgerEntry, points: int, first_entry_id: int | None = None,
                    lots: list[PointLot] | None = None) -> None:
    """Soonest-expiring lots first; `first_entry_id` puts that credit's own lot ahead (a
    purchase refund takes back the points of that purchase before any other). `lots`: the
    caller's locked _live_lots, when it has them."""
    if lots is None:
        lots = _live_lots(member_id, first_entry_id)
    left = points
    for lot in lots:
        take = min(lot.remaining, left)
        lot.remaining -= take
        db.session.add(LotMovement(entry_id=entry.id, lot_id=lot.id, points=-take))
        left -= take
        if left == 0:
            break
    if left:  # balance and lots disagree: refuse rather than write a half-backed spend
        raise RuntimeError(f"member {member_id}: lots short by {left} for entry {entry.id}")
    db.session.flush()


def refundable_points(spend: LedgerEntry) -> int:
    refunded = db.session.scalar(
        select(db.func.coalesce(db.func.sum(LedgerEntry.points), 0))
        .where(LedgerEntry.reverses_id == spend.id, LedgerEntry.kind == EntryKind.REFUND.value))
    return -spend.points - refunded


def refund_points(spend_entry_id: int, points: int, *, reason: str, source: str, key: str,
                  now: datetime, reference: str | None = None, actor_id: int | None = None
                  ) -> LedgerEntry:
    """Give back (part of) a spend to the lots it came from, each with its original expiry.

    Partial refunds fill the latest-expiring lots first, the kinder order for the member.
    Points returned to a lot that has already expired expire again at once, in the same
    transaction, so a refund can never extend a validity. Refunds never exceed the spend.
    """
    if not isinstance(points, int) or points <= 0:
        raise InvalidAmount()
    spend = db.session.get(LedgerEntry, spend_entry_id)
    if spend is None or spend.kind != EntryKind.SPEND.value:
        raise RefundTooLarge()

    def write():
        account = _locked_account(spend.member_id, now)
        if points > refundable_points(spend):
            raise RefundTooLarge()
        entry = _write_entry(account, kind=EntryKind.REFUND, points=points, reason=reason,
                             source=source, key=key, now=now, reference=reference or spend.reference,
                             reverses_id=spend.id, actor_id=actor_id)
        _return_to_lots(spend, entry, points)
        _expire_due_lots(account, now, cause=entry)
        return entry

    with _locks().hold(f"points:{spend.member_id}"):
        return _guarded(source, key, points, write)


def _return_to_lots(spend: LedgerEntry, entry: LedgerEntry, points: int) -> None:
    taken = db.session.execute(
        select(PointLot, db.func.sum(LotMovement.points))
        .join(LotMovement, LotMovement.lot_id == PointLot.id)
        .join(LedgerEntry, LedgerEntry.id == LotMovement.entry_id)
        .where((LotMovement.entry_id == spend.id) | (LedgerEntry.reverses_id == spend.id))
        .group_by(PointLot.id)
        .order_by(PointLot.expires_at.desc(), PointLot.id.desc())
    ).all()
    left = points
    for lot, net in taken:  # net is negative: what this spend still holds of the lot
        give = min(-net, left)
        if give <= 0:
            continue
        lot.remaining += give
        db.session.add(LotMovement(entry_id=entry.id, lot_id=lot.id, points=give))
        left -= give
        if left == 0:
            break
    if left:
        raise RuntimeError(f"spend {spend.id}: could not place {left} refunded points")
    db.session.flush()


def _expire_due_lots(account: PointsAccount, now: datetime, cause: LedgerEntry | None = None,
                     lots: list[PointLot] | None = None) -> list:
    """Turn every lot remainder at or past its expiry into one expiry entry per lot. `lots`:
    those lots, already locked by the caller (in expiry order)."""
    if lots is None:
        lots = db.session.scalars(
            select(PointLot).where(PointLot.member_id == account.member_id, PointLot.remaining > 0,
                                   PointLot.expires_at <= now, NOT_PENDING)
            .order_by(PointLot.expires_at, PointLot.id).with_for_update()
        ).all()
    entries = []
    for lot in lots:
        amount = lot.remaining
        # A lot's first expiry is keyed by the lot alone, so two workers can't both expire
        # it. A lot refilled by a refund after its expiry expires again at once, keyed by
        # that refund, which touches each lot once.
        key = f"lot:{lot.id}" if cause is None else f"lot:{lot.id}:refund:{cause.id}"
        entry = _write_entry(account, kind=EntryKind.EXPIRE, points=-amount, reason="expired",
                             source="expiry", key=key, now=now,
                             detail={"lot_created": lot.created_at.isoformat(),
                                     "expired_on": lot.expires_at.isoformat()})
        lot.remaining = 0
        db.session.add(LotMovement(entry_id=entry.id, lot_id=lot.id, points=-amount))
        db.session.flush()
        entries.append(entry)
    if entries:
        points_expired.send("points", member_id=account.member_id, entries=entries, now=now)
    return entries


def expire_member_points(member_id: int, now: datetime) -> list[LedgerEntry]:
    with _locks().hold(f"points:{member_id}"):
        entries, _ = insert_once(lambda: _expire_due_lots(_locked_account(member_id, now), now))
        return entries or []  # None: another worker expired the same lot first


def expire_due_points(now: datetime, *, batch: int = 500) -> int:
    """The expiry job: expire every due remainder. Safe to run twice or in two workers."""
    members = db.session.scalars(
        select(PointLot.member_id).where(PointLot.remaining > 0, PointLot.expires_at <= now, NOT_PENDING)
        .distinct().limit(batch)
    ).all()
    return sum(len(expire_member_points(m, now)) for m in members)


# --- pending points (the return window) -------------------------------------------------

def pending_lot(earn_entry_id: int | None) -> PointLot | None:
    """The lot of a credit, if it is still pending."""
    if earn_entry_id is None:
        return None
    return db.session.scalar(select(PointLot).where(PointLot.entry_id == earn_entry_id,
                                                    PointLot.pending_state == "pending"))


def cancel_pending(earn_entry_id: int, *, reason: str, source: str, key: str, now: datetime,
                   points: int | None = None, spend_minor: int = 0, reference: str | None = None,
                   detail: dict | None = None, store_id: int | None = None) -> LedgerEntry | None:
    """A refund inside the return window: take (up to `points` of) a credit's pending points
    back out of its own lot, with one adjust line. Pending points were never spendable, so
    nothing else is touched and no clawback can arise; a lot emptied this way is 'cancelled'.
    Returns None when the lot is no longer pending (the caller claws back instead).
    Idempotent per (source, key). `spend_minor` comes off the tier window."""
    lot = db.session.scalar(select(PointLot).where(PointLot.entry_id == earn_entry_id))
    if lot is None:
        return None
    member_id = lot.member_id

    def write():
        account = _locked_account(member_id, now)
        locked = db.session.execute(select(PointLot).where(PointLot.id == lot.id).with_for_update()
                                    .execution_options(populate_existing=True)).scalar_one()
        if locked.pending_state != "pending":
            return None  # released meanwhile: the caller takes the points back by the clawback rule
        take = locked.remaining if points is None else min(points, locked.remaining)
        if take <= 0:
            return None
        entry = _write_entry(account, kind=EntryKind.ADJUST, points=-take, pending_delta=-take, reason=reason,
                             source=source, key=key, now=now, reference=reference, detail=detail,
                             spend_minor=-spend_minor, store_id=store_id)
        before = locked.remaining
        locked.remaining -= take
        if locked.remaining == 0:
            locked.pending_state = "cancelled"
        db.session.add(LotMovement(entry_id=entry.id, lot_id=locked.id, points=-take))
        db.session.flush()
        # The budget that paid for the credit's uplift takes its share back (budgets' receiver).
        pending_cancelled.send("points", earn_entry_id=earn_entry_id, cancelled=take, remaining_before=before,
                               now=now)
        return entry

    return _once_per_key(member_id, source, key, write)


def release_member_pending(member_id: int, now: datetime) -> int:
    """Release the member's pending lots whose return window has ended: their points become
    spendable (no ledger line: the balance does not change, only what of it is pending).
    Returns the number of lots released; a second run releases nothing twice."""
    with _locks().hold(f"points:{member_id}"):
        _locked_account(member_id, now)
        lots = db.session.scalars(
            select(PointLot).where(PointLot.member_id == member_id, PointLot.pending_state == "pending",
                                   PointLot.pending_until <= now)
            .order_by(PointLot.id).with_for_update().execution_options(populate_existing=True)).all()
        released = sum(lot.remaining for lot in lots)
        for lot in lots:
            lot.pending_state, lot.released_at = "released", now
        if released:
            db.session.execute(update(PointsAccount).where(PointsAccount.member_id == member_id)
                               .values(pending=PointsAccount.pending - released, updated_at=now)
                               .execution_options(synchronize_session=False))
        db.session.flush()
        return len(lots)


def release_due_pending(now: datetime, *, batch: int = 500) -> int:
    """The `mall jobs` step: release every pending lot whose window has ended. Safe to run
    twice or in two workers (each member's lots are released under their lock)."""
    members = db.session.scalars(
        select(PointLot.member_id).where(PointLot.pending_state == "pending", PointLot.pending_until <= now)
        .distinct().limit(batch)).all()
    return sum(release_member_pending(m, now) for m in members)


# --- checkout's fast path on PostgreSQL (issue 15, mall/checkout/fast_path.py) -------------

# The account row and then (a LATERAL join on it, so never before it: every writer of a
# member's lots locks the account row first) the member's live lots, locked, in the order
# they are spent. One round trip, on the raw connection (mall/rawsql.py).
_LOCK_WITH_LOTS_SQL = """
WITH acct AS (
  SELECT member_id, balance, pending FROM points_accounts WHERE member_id = %(member_id)s FOR UPDATE)
SELECT acct.balance, acct.pending, lot.id, lot.remaining, lot.expires_at
FROM acct LEFT JOIN LATERAL (
  SELECT id, remaining, expires_at FROM point_lots
  WHERE member_id = acct.member_id AND remaining > 0 AND (pending_state IS NULL OR pending_state <> 'pending')
  ORDER BY expires_at, id FOR UPDATE) AS lot ON true
"""


def lock_with_lots(member_id: int) -> tuple[int, list[tuple[int, int, datetime]]] | None:
    """Lock the member's account row and their live lots (as lock_account and _live_lots
    do). Returns (spendable points, [(lot id, remaining, expires_at)] soonest-expiring
    first), or None without an account. No ORM object is built: an account the session
    already holds is expired, since a spend on this path changes its row behind it."""
    rows = execute(_LOCK_WITH_LOTS_SQL, {"member_id": member_id}).fetchall()
    if not rows:
        return None
    forget_account(member_id)
    balance, pending = rows[0][0], rows[0][1]
    return balance - pending, [(r[2], r[3], r[4]) for r in rows if r[2] is not None]


def forget_account(member_id: int) -> None:
    """Expire the member's account object if the session holds one: a raw write changed its
    row behind the ORM's back (the next read loads it again)."""
    stale = db.session.identity_map.get((PointsAccount, (member_id,), None))
    if stale is not None:
        db.session.expire(stale)


def fifo_takes(lots, points: int, now: datetime) -> list[tuple[int, int]] | None:
    """What each lot gives to a spend of `points`, soonest-expiring first, as _take_from_lots
    takes it: [(lot id, points)]. None when the fast path must not spend: a lot is past its
    expiry (spend_points expires it first) or the lots hold less than the balance says
    (spend_points refuses that)."""
    if any(expires_at <= now for _, _, expires_at in lots):
        return None
    taken, left = [], points
    for lot_id, remaining, _ in lots:
        take = min(remaining, left)
        taken.append((lot_id, take))
        left -= take
        if left == 0:
            return taken
    return None


# The spend of a new order's points, as data-modifying CTEs that follow a `new_order` CTE
# (RETURNING id, number) in the same statement: the same rows as _SPEND_SQL writes (the
# conditional balance UPDATE guards the spendable balance; without its row, no entry, no lot
# change; without a new order's row, a replay's, no balance change either), keyed "order:<id>"
# and naming the order. The entry's detail is built here because
# it carries the order's id. Parameters: member_id, points, now, lot_ids, takes, d_item,
# d_item_zh, cash, plans (a JSON array), category.
ORDER_SPEND_CTES = """
acct AS (
  UPDATE points_accounts SET balance = balance - %(points)s, updated_at = %(now)s
  WHERE member_id = %(member_id)s AND balance - %(points)s - pending >= 0 AND EXISTS (SELECT 1 FROM new_order)
  RETURNING balance, pending),
entry AS (
  INSERT INTO ledger_entries (member_id, kind, points, balance_after, reason, reference, detail, source,
                              idempotency_key, spend_minor, reverses_id, store_id, actor_id, created_at)
  SELECT %(member_id)s, 'spend', -%(points)s, acct.balance, 'redeem', new_order.number,
         json_build_object('item', CAST(%(d_item)s AS TEXT), 'item_zh', CAST(%(d_item_zh)s AS TEXT),
                           'order_id', new_order.id, 'cash_minor', CAST(%(cash)s AS INTEGER),
                           'plans', CAST(%(plans)s AS JSON), 'category', CAST(%(category)s AS TEXT)),
         'order', 'order:' || new_order.id, 0, NULL, NULL, NULL, %(now)s
  FROM acct, new_order
  RETURNING id, balance_after),
taken (lot_id, points) AS (
  SELECT * FROM unnest(CAST(%(lot_ids)s AS INTEGER[]), CAST(%(takes)s AS INTEGER[]))),
lots AS (
  UPDATE point_lots SET remaining = point_lots.remaining - taken.points FROM taken
  WHERE point_lots.id = taken.lot_id AND EXISTS (SELECT 1 FROM entry)),
moves AS (
  INSERT INTO lot_movements (entry_id, lot_id, points)
  SELECT entry.id, taken.lot_id, -taken.points FROM entry, taken)
"""
