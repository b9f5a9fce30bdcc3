"""Taking back the points of a refunded purchase, never below zero.

The rule (docs/instore.md): a refund takes back the purchase's points, from that
purchase's own lot first and then from the member's other points, soonest-expiring first.
If the balance can't cover it (the member already spent them), it takes what there is and
records the rest as a Clawback. Later earnings settle an open clawback before the member
can spend them: a receipt or POS earn settles at once, and `flask mall jobs` settles from
any other points that arrived. The balance never goes negative (CHECK constraints), and
every point taken back is one ledger line (kind "adjust") backed by lot movements, so
`mall audit` still balances.

This module writes ledger lines through the ledger's `claw_back`, so it follows the same queue, row lock and conditional UPDATE as every other writer.
"""
from datetime import datetime

from sqlalchemy import select

from ..extensions import db
from ..points.ledger import claw_back as take_back_points  # the ledger's one writer path
from ..points.ledger import lock_account
from .models import Clawback


def settle_clawbacks(member_id: int, now: datetime) -> int:
    """Settle the member's open clawbacks, oldest first, from the points they have now.
    Returns the points taken. Each step is keyed by how much was settled before it, so two
    workers settling at once take each slice once.

    Locks the member's account row before their clawback rows, the order a refund and a
    receipt earn take them in (account, then clawback), so the job and a refund never
    deadlock (CONVENTIONS: locks in one order)."""
    if lock_account(member_id, now, open_missing=False) is None:
        return 0  # no account: no points to settle from
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
