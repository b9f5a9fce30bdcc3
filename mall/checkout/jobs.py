"""Checkout's background work, run by `flask mall jobs`: expire holds, resync admission
counters, retry refunds. Each step commits per order, so one failure never blocks the rest."""
from datetime import datetime

from sqlalchemy import select

from ..extensions import db
from ..inventory.models import StockLevel
from ..unit_of_work import commit
from .gateway import PaymentUnavailable
from .orders import claim_for_expiry, due_for_expiry, expire_order
from .payments import apply_event, send_due_refunds


def expire_holds(now: datetime, gateway, *, hold_minutes: int) -> int:
    """Expire orders whose hold ran out. Before expiring one with a PaymentIntent, ask
    Stripe (outside any lock) whether the money is on its way, so a slow payment keeps
    its stock: processing extends the hold, succeeded confirms the order."""
    expired = 0
    for order_id in due_for_expiry(now):
        order = claim_for_expiry(order_id)
        if order is None or order.status == "expired":
            continue  # another worker is expiring it right now, or just did
        intent_id = order.payment.intent_id if order.payment is not None else None
        if intent_id and gateway is not None:
            commit()  # batch: one order at a time, no lock held while Stripe answers
            try:
                intent = gateway.retrieve(intent_id)
            except PaymentUnavailable:
                continue  # can't tell: keep the hold until Stripe answers
            if intent.status in ("processing", "succeeded"):
                kind = "payment_intent." + intent.status
                apply_event(f"poll:{intent_id}:{intent.status}", kind, {"id": intent_id, "amount": intent.amount},
                            now, hold_minutes=hold_minutes)
                commit()
                continue
            if intent.status not in ("canceled",):
                try:
                    gateway.cancel(intent_id)
                except PaymentUnavailable:
                    continue
        if expire_order(order_id, now).status == "expired":
            expired += 1
        commit()
    return expired


def resync_admission(admission) -> int:
    """Reset each item's admission counter to the database's available count."""
    rows = db.session.execute(select(StockLevel.item_id, StockLevel.received - StockLevel.reserved - StockLevel.sold)).all()
    for item_id, available in rows:
        admission.resync(item_id, available)
    return len(rows)


def retry_refunds(gateway, now: datetime) -> int:
    return send_due_refunds(gateway, now) if gateway is not None else 0
