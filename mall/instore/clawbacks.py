"""Taking back the points of a refunded purchase, never below zero.

The rule (README, "In store"): a refund takes back the purchase's points, from that
purchase's own lot first and then from the member's other points, soonest-expiring first.
If the balance can't cover it (the member already spent them), it takes what there is and
records the rest as a Clawback. Later earnings settle an open clawback before the member
can spend them: a receipt or POS earn settles at once, and `flask mall jobs` settles from
any other points that arrived. The balance never goes negative (CHECK constraints), and
every point taken back is one ledger line (kind "adjust") backed by lot movements, so
`mall audit` still balances.

This module writes ledger lines through the ledger's own account lock and entry writer,
so it follows the same queue, row lock and conditional UPDATE as every other writer.
"""
from datetime import datetime

from sqlalchemy import select

from ..extensions import db
from ..idempotency import insert_once
from ..points.ledger import _expire_due_lots, _locked_account, _locks, _take_from_lots, _write_entry  # one writer path
from ..points.models import EntryKind, LedgerEntry
from .models import Clawback


def _existing(source: str, key: str) -> LedgerEntry | None:
    return db.session.scalar(select(LedgerEntry).where(LedgerEntry.source == source,
                                                       LedgerEntry.idempotency_key == key))


def take_back_points(member_id: int, points: int, *, reason: str, source: str, key: str, now: datetime,
                     first_entry_id: int | None = None, spend_minor: int = 0, reference: str | None = None,
                     detail: dict | None = None, store_id: int | None = None) -> LedgerEntry | None:
    """Take up to `points` from the member, never below zero. Returns the adjustment line,
    or None when there was nothing to take. Idempotent per (source, key): a replay returns
    the first line whatever the balance is now. `spend_minor` comes off the tier window."""
    def write():
        account = _locked_account(member_id, now)
        _expire_due_lots(account, now)  # expired points are never taken back as if live
        take = min(points, account.balance)
        if take <= 0:
            return None
        entry = _write_entry(account, kind=EntryKind.ADJUST, points=-take, reason=reason, source=source,
                             key=key, now=now, reference=reference, detail=detail, spend_minor=-spend_minor,
                             store_id=store_id)
        _take_from_lots(member_id, entry, take, first_entry_id)
        return entry

    with _locks().hold(f"points:{member_id}"):
        replay = _existing(source, key)
        if replay is not None:
            return replay
        return insert_once(write, lambda: _existing(source, key))[0]


def settle_clawbacks(member_id: int, now: datetime) -> int:
    """Settle the member's open clawbacks, oldest first, from the points they have now.
    Returns the points taken. Each step is keyed by how much was settled before it, so two
    workers settling at once take each slice once."""
    taken = 0
    for claw in db.session.scalars(select(Clawback).where(
            Clawback.member_id == member_id, Clawback.settled < Clawback.points)
            .order_by(Clawback.id).with_for_update().execution_options(populate_existing=True)).all():
        owed = claw.open_points
        entry = take_back_points(member_id, owed, reason="clawback", source="clawback",
                                 key=f"clawback:{claw.id}:{claw.settled}", now=now,
                                 spend_minor=claw.spend_minor_due,
                                 reference=claw.purchase.receipt_no,
                                 detail={"purchase_id": claw.purchase_id, "owed": owed})
        if entry is None:
            break  # nothing left to take; the next earning continues
        claw.settled += -entry.points
        claw.spend_minor_due = 0
        if claw.settled == claw.points:
            claw.settled_at = now
        taken += -entry.points
    db.session.flush()
    return taken


def members_with_open_clawbacks(limit: int = 500) -> list[int]:
    return list(db.session.scalars(select(Clawback.member_id).where(Clawback.settled < Clawback.points)
                                   .distinct().limit(limit)))


def settle_due_clawbacks(now: datetime) -> int:
    """The job: settle every open clawback from points that arrived by other ways (tasks,
    bonuses, refunds of redemptions). Safe to run twice or in two workers."""
    return sum(settle_clawbacks(member_id, now) for member_id in members_with_open_clawbacks())
