"""The cash part through Stripe: starting a PaymentIntent and applying webhook events.

One intent, one effect: each Stripe event id is stored once (WebhookEvent), and each
handler acts only from the state it expects, so a replayed or out-of-order event is a
no-op. A success that arrives after the hold expired takes the stock and points again if
it can, and otherwise marks the payment for refund: money is never kept for an order that
won't be filled. Refunds are sent after commit (`send_due_refunds`), and retried by
`mall jobs` if Stripe was unreachable.
"""
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..errors import DomainError, NotFound
from ..extensions import db
from ..idempotency import insert_once
from ..inventory import reservations
from ..points.ledger import spend_points
from .gateway import PaymentUnavailable, StripeGateway
from .models import Order, OrderStatus, Payment, WebhookEvent
from ..unit_of_work import commit
from .coupons import coupon_given_back
from .orders import _confirm, _release, locked_order, record, settle_paid

S = OrderStatus


class CardPaymentUnavailable(DomainError):
    message = _l("Card payment is unavailable right now. Your order is still held; try again in a moment.")


def start_card_payment(order_id: int, member_id: int, gateway: StripeGateway, *, currency: str,
                       now: datetime) -> Payment:
    """Create (once) the PaymentIntent for the order's cash part. Called outside any lock;
    Stripe's idempotency key makes a retried call return the same intent."""
    order = db.session.get(Order, order_id)
    if order is None or order.member_id != member_id:
        raise NotFound()
    if order.payment is not None and order.payment.intent_id:
        return order.payment
    if order.status != S.AWAITING_PAYMENT.value or order.payment_mode != "stripe":
        raise NotFound()
    number, amount = order.number, order.cash_total_minor
    commit()  # the one commit inside a service: nothing is held while Stripe answers
    try:
        intent = gateway.create_intent(amount_minor=amount, currency=currency, order_number=number)
    except PaymentUnavailable as exc:
        raise CardPaymentUnavailable() from exc
    order = locked_order(order_id)
    if order.payment is None:
        order.payment = Payment(amount_minor=amount, currency=currency, created_at=now, updated_at=now)
    order.payment.intent_id, order.payment.client_secret = intent.id, intent.client_secret
    order.payment.status = intent.status
    record(order, "payment_started", now, actor="member", actor_id=member_id)
    db.session.flush()
    return order.payment


def apply_event(event_id: str, event_type: str, intent: dict, now: datetime, *, hold_minutes: int) -> str:
    """Apply one verified Stripe event. Returns what happened, for logs and tests."""
    _, created = insert_once(lambda: db.session.add(WebhookEvent(event_id=event_id, type=event_type,
                                                                 received_at=now)))
    if not created:
        return "duplicate"
    payment = db.session.scalar(select(Payment).where(Payment.intent_id == intent.get("id")))
    if payment is None:
        return "unknown intent"
    order = locked_order(payment.order_id)
    # Re-read the payment under the order's lock: a concurrent event (or the expiry job's
    # poll) may have applied the same outcome while this one waited.
    db.session.refresh(payment)
    if intent.get("amount") is not None and intent["amount"] != payment.amount_minor:
        record(order, "payment_amount_mismatch", now, actor="stripe", note=str(intent.get("amount")))
        return "amount mismatch"
    handler = {"payment_intent.succeeded": _succeeded, "payment_intent.processing": _processing,
               "payment_intent.payment_failed": _failed, "payment_intent.canceled": _failed}.get(event_type)
    if handler is None:
        return "ignored"
    return handler(order, payment, now, hold_minutes=hold_minutes, event_type=event_type)


def _processing(order, payment, now, *, hold_minutes, **_):
    if order.status != S.AWAITING_PAYMENT.value:
        return "ignored"
    payment.status, payment.updated_at = "processing", now
    until = now + timedelta(minutes=hold_minutes)
    order.reserved_until = max(order.reserved_until or now, until)
    reservations.extend(order.id, order.reserved_until, now)
    record(order, "payment_processing", now, actor="stripe", note="hold extended while the bank answers")
    return "hold extended"


def _succeeded(order, payment, now, **_):
    if payment.status in ("succeeded", "refund_due", "refunded") or order.status in (
            S.READY.value, S.PICKED_UP.value, S.REFUNDED.value, S.FULFILLED.value):
        return "ignored"
    payment.status, payment.updated_at = "succeeded", now
    if order.status == S.AWAITING_PAYMENT.value:
        try:
            with db.session.begin_nested():
                _confirm(order, now, actor="stripe", note="card payment succeeded")
            return "confirmed"
        except DomainError:  # what it buys can no longer be delivered (the coupon's issue ended, ...)
            payment.status = "refund_due"
            _release(order, S.CANCELLED, now, kind="cancelled", note="paid, but it could no longer be delivered")
            record(order, "refund_due", now, actor="system", note="paid, but it could no longer be delivered")
            return "refund due"
    if order.status == S.CANCELLED.value:  # the member said no before the money arrived
        payment.status = "refund_due"
        record(order, "refund_due", now, actor="system", note="paid after the member cancelled")
        return "refund due"
    # Late: the hold expired before the money arrived.
    if coupon_given_back(order):  # the discount it was priced with is back in the wallet
        payment.status = "refund_due"
        record(order, "refund_due", now, actor="system", note="paid after the hold ended; its coupon was given back")
        return "refund due"
    try:
        with db.session.begin_nested():
            reservations.confirm(order.id, now=now)
            if order.points_total:
                spend_points(order.member_id, order.points_total, reason="redeem", source="order",
                             key=f"order:{order.id}:retake", now=now, reference=order.number)
            settle_paid(order, now, actor="stripe", note="late payment: stock and points taken again")
            return "confirmed late"
    except DomainError:  # OutOfStock, InsufficientPoints, or what it buys can't be issued any more
        payment.status = "refund_due"
        record(order, "refund_due", now, actor="system", note="paid after the hold ended and can't be filled")
        return "refund due"


def _failed(order, payment, now, *, event_type, **_):
    if payment.status in ("succeeded", "refund_due", "refunded"):
        return "ignored"
    payment.status, payment.updated_at = ("canceled" if event_type.endswith("canceled") else "failed"), now
    if order.status != S.AWAITING_PAYMENT.value:
        return "ignored"
    _release(order, S.PAYMENT_FAILED, now, kind="payment_failed", actor="stripe")
    return "released"


def send_due_refunds(gateway: StripeGateway, now: datetime, order_id: int | None = None) -> int:
    """Refund every payment marked refund_due. Commit happens per refund, after Stripe answers."""
    query = select(Payment.id).where(Payment.status == "refund_due")
    if order_id is not None:
        query = query.where(Payment.order_id == order_id)
    sent = 0
    for payment_id in db.session.scalars(query).all():
        payment = db.session.get(Payment, payment_id)
        intent_id, amount, order_id_ = payment.intent_id, payment.amount_minor - payment.refunded_minor, payment.order_id
        commit()  # batch: each refund commits alone, and nothing is held while Stripe answers
        try:
            gateway.refund(intent_id, amount_minor=amount, key=f"refund-{intent_id}")
        except PaymentUnavailable:
            continue  # retried by the next `mall jobs`
        order = locked_order(order_id_)
        order.payment.status, order.payment.refunded_minor = "refunded", order.payment.amount_minor
        order.payment.updated_at = now
        order.status = S.REFUNDED.value
        record(order, "refunded", now, actor="system", note="cash refunded to the card")
        commit()
        sent += 1
    return sent
