"""Placing, paying, cancelling, expiring and refunding orders.

An order is placed in one transaction: admission (Redis), the member's account row locked,
per-member limits checked, stock held (conditional UPDATEs), points spent (ledger entry
naming the order). Any refusal rolls the whole thing back, and admission units go back.
No lock is held across a call to Stripe: the PaymentIntent is created after the order
commits (`start_card_payment`), and webhooks arrive as separate transactions.

Every status change writes an OrderEvent; every stock change a StockMovement; every points
change a LedgerEntry (DESIGN.md #6).
"""
import secrets
from collections import Counter
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from ..catalog.models import INSTANT_KINDS
from ..events import order_changed
from ..errors import DomainError, InsufficientPoints, NotFound
from ..extensions import db
from ..idempotency import insert_once
from ..inventory import reservations
from ..inventory.admission import app_admission
from ..inventory.reservations import OutOfStock, Want  # noqa: F401  (views catch it from here)
from ..pagination import paginate
from ..points.categories import record_category_shares
from ..points.ledger import lock_account, refund_points, refundable_points, spend_points, spendable_of
from ..points.models import LedgerEntry
from ..unit_of_work import after_commit, rollback
from ..wallet.issue import check_issuable
from . import fast_path
from .coupons import apply_coupon, spend_on_order
from .models import LIVE_STATUSES, Order, OrderEvent, OrderLine, OrderStatus  # noqa: F401
from .order_rows import write_in_one_statement
from .quotes import MAX_QUANTITY, InvalidQuantity, LineRequest, price

S = OrderStatus


class LimitReached(DomainError):
    field = "quantity"

    def __init__(self, item_name: str, limit: int, holding: int):
        super().__init__(_l("%(item)s is limited to %(limit)s per member; you already have %(holding)s.",
                            item=item_name, limit=limit, holding=holding))


class NotCancellable(DomainError):
    message = _l("This order can no longer be cancelled.")


class EmptyOrder(DomainError):
    message = _l("There is nothing to order.")


class KindRefused(DomainError):
    """A coupon, red packet, service or right is ordered on its own, one service or right
    at a time, and a service needs its slot: checked before anything is written."""


def check_kinds(totals, *, slot_chosen: bool) -> None:
    kinds = {line.item.kind for line in totals.lines}
    if kinds == {"goods"}:
        return
    if len(totals.lines) > 1:
        raise KindRefused(_l("Order a coupon, red packet, service or right on its own, not with other items."))
    line = totals.lines[0]
    if line.item.kind in ("service", "right") and line.quantity != 1:
        raise KindRefused(_l("One at a time, please."), field="quantity")
    if line.item.kind == "service" and not slot_chosen:
        raise KindRefused(_l("Choose a time slot."), field="slot_id")


def check_delivery(member_id: int, totals, now: datetime, *, card_payments: bool) -> None:
    """What a coupon, red packet or right order must settle before anything is taken: its
    cash part is paid by card (nothing is picked up at a counter, so a cash part "due at the
    counter" would never be collected), and the wallet can issue what it buys: its terms are
    set (an item published before the console required them, an older import, has none) and
    the wallet would not refuse them now (checked again when it is paid: payments.py). Goods
    and services pass untouched."""
    line = totals.lines[0] if len(totals.lines) == 1 else None
    if line is None or line.item.kind not in INSTANT_KINDS:
        return
    if totals.cash_minor > 0 and not card_payments:
        raise KindRefused(_l("A coupon, red packet or right is paid by card, which this shop doesn't take yet: "
                             "choose a plan in points only."))
    if line.item.kind not in ("coupon", "red_packet"):
        return
    spec = line.item.coupon_spec
    if spec is None:
        raise KindRefused(_l("This reward can't be redeemed yet: its terms are not set. Nothing was charged."))
    # Paid in points alone, it is issued in this very transaction (wallet.receivers), whose
    # refusal undoes everything; only a cash part, paid later, needs asking first.
    if totals.cash_minor > 0 and not (line.item.kind == "red_packet" and spec.value_minor):
        check_issuable(member_id, spec, line.quantity, now)  # as wallet.receivers issues it


def paid_step(kind: str) -> tuple[S, str]:
    """What paying does to an order of this kind: its status and its timeline event. A
    coupon, red packet or right is fulfilled at once (the wallet and rights receivers deliver
    it on the "fulfilled" event, docs/checkout.md), a service is booked (its slot was taken at
    checkout), goods wait for pickup."""
    if kind in INSTANT_KINDS:
        return S.FULFILLED, "fulfilled"
    return S.READY, "service_booked" if kind == "service" else "ready_for_pickup"


def _order_kind(totals) -> str:
    return totals.lines[0].item.kind if totals.lines else "goods"  # one kind per order (check_kinds)


def settle_paid(order: Order, now: datetime, *, actor: str = "system", note: str = "") -> None:
    """A paid order goes to its kind's next status (paid_step)."""
    status, event = paid_step(order.kind)
    order.status, order.reserved_until = status.value, None
    record(order, event, now, actor=actor, note=note)


def record(order: Order, kind: str, now: datetime, *, actor: str = "system", actor_id=None, note: str = "") -> None:
    db.session.add(OrderEvent(order_id=order.id, kind=kind, actor=actor, actor_id=actor_id, note=note[:255],
                              created_at=now))
    order.updated_at = now
    order_changed.send("checkout", order=order, kind=kind, now=now)


def find_by_key(member_id: int, key: str) -> Order | None:
    return db.session.scalar(select(Order).where(Order.member_id == member_id, Order.idempotency_key == key))


def _holding(member_id: int, item_id: int) -> int:
    return db.session.scalar(
        select(func.coalesce(func.sum(OrderLine.quantity), 0)).join(Order)
        .where(Order.member_id == member_id, OrderLine.item_id == item_id, Order.status.in_(LIVE_STATUSES)))


def place_order(member_id: int, requests: list[LineRequest], *, key: str, now: datetime,
                hold_minutes: int, card_payments: bool, points_per_unit: int, screen=None,
                coupon: str | None = None, book=None, guard=None) -> Order:
    """Place an order once per `key`. Raises OutOfStock, InsufficientPoints, LimitReached,
    InvalidOffset, ItemLocked, KindRefused or LockUnavailable (Redis down); each leaves
    nothing behind.

    `screen(order, now)` is risk screening, passed in by the web view: it is called right
    after the order is written and returns reasons to hold it for review (none: go on).
    `coupon`: a wallet code to take off the cash part (checkout/coupons.py; CouponRefused).
    `book(order, now)` takes a service order's slot (mall/bookings, passed in by the view);
    it raises a DomainError when the slot is full, which rolls the order back.
    `guard(items, now)` refuses (a DomainError) items an upper domain keeps from ordinary
    checkout: presale.availability.check_not_reserved, passed in by the web view (an item
    whose presale is open or has pre-orders waiting: its stock is theirs). It is called once
    the items are priced (loaded), before anything is written."""
    if not requests:
        raise EmptyOrder()
    # No look-up of `key` first: a replay is found once the account row is locked (the
    # order's UNIQUE (member, key) refuses a second insert), which spares every first
    # submit a query.
    per_item = Counter()
    for request in requests:
        if not isinstance(request.quantity, int) or not 1 <= request.quantity <= MAX_QUANTITY:
            raise InvalidQuantity()
        per_item[request.item_id] += request.quantity
    wants = [Want(item_id, qty) for item_id, qty in sorted(per_item.items())]

    # Admission first: in a flash sale most requests can't win, and they are turned away
    # by one Redis round trip before any pricing query or lock.
    admission = app_admission()
    intent = f"{member_id}:{key}"
    with admission.admit(wants, reservations.available, intent=intent) as admitted:
        if admitted.refused is not None:
            # A double tap's twin may have taken the last unit, or this is a replay of an
            # order placed earlier: answer with that order, never with "sold out, nothing
            # was charged".
            twin = _twin_order(member_id, key, now) if admission.admitted_before(intent, wants[0].item_id) \
                else find_by_key(member_id, key)
            if twin is not None:
                return twin
            raise OutOfStock([admitted.refused])
        # The member's account row serialises their checkouts (per-member limits and the
        # balance are checked race-free), and a twin submit waits here for this one. The
        # fast path (PostgreSQL, the common one-line checkout) locks it with the member's
        # live lots in one raw statement and builds no ORM account.
        account = locked = None
        if fast_path.may_apply(requests, coupon=coupon, book=book):
            locked = fast_path.lock(member_id)
            spendable = locked.spendable if locked is not None else None
        else:
            account = lock_account(member_id, now, open_missing=False)
            spendable = spendable_of(account) if account is not None else None
        try:
            # The locked row's balance: lots past their expiry still count in it until the
            # spend expires them, and then refuses (InsufficientPoints) inside the savepoint.
            totals = price(member_id, requests, now, points_per_unit=points_per_unit, balance=spendable)
            if guard is not None:  # before anything is written
                guard([line.item for line in totals.lines], now)
            if coupon:
                totals = apply_coupon(member_id, totals, coupon, now)
            if totals.points > totals.balance:
                raise InsufficientPoints(needed=totals.points, available=totals.balance)
            check_kinds(totals, slot_chosen=book is not None)
            check_delivery(member_id, totals, now, card_payments=card_payments)
            takes = fast_path.takes_for(totals, locked, now) if locked is not None else None
            # A replay (a twin that committed while this one waited for the row, or a submit
            # repeated later) finds the order's (member, key) taken: its order is the answer,
            # and the units this one was admitted for go back, as the earlier order holds the
            # stock. The fast path's INSERT skips it (ON CONFLICT) and writes nothing, with no
            # savepoint; the ORM path's insert fails inside insert_once's savepoint.
            if takes is not None:
                order = _write_order_fast(member_id, totals, takes, wants, key=key, now=now,
                                          hold_minutes=hold_minutes, card_payments=card_payments, screen=screen)
                created = order is not None
                if not created:
                    order = _replayed(member_id, key)
            else:
                if locked is not None:  # the ORM path spends through the row object (already locked)
                    account = lock_account(member_id, now, open_missing=False)

                def write():
                    return _write_order(member_id, account, totals, wants, key=key, now=now, hold_minutes=hold_minutes,
                                        card_payments=card_payments, screen=screen, book=book)
                order, created = insert_once(write, lambda: find_by_key(member_id, key))
        except DomainError:
            # The earlier order spent the points (or the coupon, or the slot) this replay now
            # fails on.
            existing = find_by_key(member_id, key)
            if existing is None:
                raise
            order, created = existing, False
        if not created:
            admitted.not_taken()
        return order


def _replayed(member_id: int, key: str) -> Order:
    """The order the fast path's INSERT found under `key` (ON CONFLICT DO NOTHING). Under
    READ COMMITTED this later statement sees the committed row the INSERT conflicted with."""
    order = find_by_key(member_id, key)
    if order is None:  # not reachable while UNIQUE (member, key) is the only conflict skipped
        raise RuntimeError(f"order key {key!r} conflicted but no order holds it")
    return order


def _twin_order(member_id: int, key: str, now: datetime) -> Order | None:
    """The order a twin submit of `key` made, waiting for it to commit first: the twin holds
    the member's account row from just after its admission until its commit."""
    lock_account(member_id, now, open_missing=False)
    return find_by_key(member_id, key)


def check_limits(member_id: int, totals) -> None:
    """Per-member limits over the member's live orders. Call with their account row locked
    (lock_account), so two checkouts can't both pass. Raises LimitReached."""
    for line in totals.lines:
        check_item_limit(member_id, line.item, per_item_quantity(totals, line.item.id))


def check_item_limit(member_id: int, item, quantity: int) -> None:
    """`quantity` more of `item` within its per-member limit (account row locked, as above).
    Raises LimitReached."""
    limit = item.per_member_limit
    if limit is not None:
        holding = _holding(member_id, item.id)
        if holding + quantity > limit:
            raise LimitReached(item.name, limit, holding)


def write_order(member_id: int, totals, *, status: str, key: str, now: datetime, card_payments: bool = False,
                reserved_until: datetime | None = None, presale_id: int | None = None,
                queue_position: int | None = None, label: str = "", account=None) -> Order:
    """Write an order with its lines at `status` and spend its points (ledger key
    "order:<id>"): the one place orders are written (place_order, presale's preorder). Call
    with the member's account locked (pass the row as `account` to spare a second lock) and
    limits checked (check_limits), in a savepoint."""
    cash = totals.cash_minor
    order = Order(number=new_number(now), member_id=member_id, status=status,
                  points_total=totals.points, cash_total_minor=cash,
                  payment_mode="none" if cash == 0 else ("stripe" if card_payments else "counter"),
                  idempotency_key=key, reserved_until=reserved_until, presale_id=presale_id,
                  queue_position=queue_position, created_at=now, updated_at=now)
    lines = [OrderLine(item_id=l.item.id, plan_id=l.plan.id, plan_kind=l.plan.kind, item_name=l.item.name,
                       item_kind=l.item.kind, quantity=l.quantity, offset_points=l.offset_points, points=l.quote.points,
                       cash_minor=l.quote.cash_minor) for l in totals.lines]
    if not write_in_one_statement(order, lines):  # PostgreSQL, one line: one round trip
        order.lines = lines
        db.session.add(order)
        db.session.flush()
    if order.points_total:
        by_category: dict[str, int] = {}
        for line in totals.lines:  # for HQ's dashboard: redemption by category
            slug = line.item.category.slug if line.item.category else ""
            by_category[slug] = by_category.get(slug, 0) + line.quote.points
        detail = {"item": ", ".join(f"{l.item_name} ×{l.quantity}" for l in order.lines) + label,
                  # the statement shows the item in the member's language (issue 17)
                  "item_zh": ", ".join(f"{l.item.name_zh or l.item.name} ×{l.quantity}" for l in totals.lines) + label,
                  "order_id": order.id, "cash_minor": order.cash_total_minor,
                  "plans": sorted({l.plan.kind for l in totals.lines})}
        if len(by_category) == 1:
            detail["category"] = next(iter(by_category))
        entry = spend_points(member_id, order.points_total, reason="redeem", source="order", key=f"order:{order.id}",
                             now=now, reference=order.number, queue=False, detail=detail, locked=account)
        if entry is not None and len(by_category) > 1 and sum(by_category.values()) == order.points_total:
            record_category_shares(entry, {c: (-p, 0) for c, p in by_category.items()})
    return order


def _write_order(member_id, account, totals, wants, *, key, now, hold_minutes, card_payments, screen,
                 book=None) -> Order:
    # place_order holds the account row (locked before the key was looked up again).
    account = account or lock_account(member_id, now)  # a member without one yet: opened here
    check_limits(member_id, totals)
    cash = totals.cash_minor
    # Nothing left to pay: written in its paid status at once (sold), as nearly every
    # screened order stays; only a held one is updated below. Spares an UPDATE of the new row.
    paid = cash == 0
    order = write_order(member_id, totals, status=(paid_step(_order_kind(totals))[0] if paid else S.AWAITING_PAYMENT).value,
                        key=key, now=now, card_payments=card_payments,
                        reserved_until=None if paid else now + timedelta(minutes=hold_minutes), account=account)
    if totals.coupon is not None:
        spend_on_order(order, member_id, totals, now)
    # Risk screening (mall/risk, passed in by the view): a risky redemption waits for HQ in
    # `in_review`, its stock held (not sold) and its points taken, until decided.
    in_review = bool(screen and screen(order, now))
    # The events after screening, so that they go to the database together (one INSERT).
    record(order, "placed", now, actor="member", actor_id=member_id)
    if in_review:
        order.status, order.reserved_until = S.IN_REVIEW.value, None
        record(order, "held_for_review", now)
    elif paid:  # sold at once
        record(order, paid_step(order.kind)[1], now, note="paid in points")
    if book is not None and order.kind == "service":
        book(order, now)  # the slot's conditional UPDATE; full: the whole order rolls back
    # Stock last: its row is the one every buyer of a hot item needs, and the UPDATE holds
    # that row lock until commit, so nothing may come after it.
    reservations.hold(order.id, wants, until=now + timedelta(minutes=hold_minutes), now=now,
                      sell=cash == 0 and not in_review)
    return order


def _write_order_fast(member_id, totals, takes, wants, *, key, now, hold_minutes, card_payments,
                      screen) -> Order | None:
    """_write_order for the fast path's checkouts (checkout/fast_path.py): the same rows and
    the same order of steps (limits, order + spend, screening, events told, stock last), the
    order, its line, its events and the spend written by one statement, without a savepoint.
    Returns None for a replay of `key` (nothing written). A refusal after the write
    (InsufficientPoints, OutOfStock, a DomainError of screening or a receiver) rolls the
    request's transaction back before it is raised: it leaves nothing written, and a fresh
    query can still find a twin's order (place_order). fast_path.may_apply made sure the
    transaction held nothing else; the account row's lock goes with it, as a refusal may."""
    check_limits(member_id, totals)
    cash = totals.cash_minor
    paid = cash == 0
    status, paid_event = paid_step(_order_kind(totals))
    # The events are written with the order; screening, which runs after it, may turn the
    # paid one into "held_for_review" (below), as it would have been recorded on the ORM path.
    events = [("placed", "member", member_id, "")] + ([(paid_event, "system", None, "paid in points")] if paid else [])
    order = None
    try:
        order, event_ids = fast_path.write(
            member_id, totals, takes, number=new_number(now), key=key, now=now,
            status=(status if paid else S.AWAITING_PAYMENT).value,
            reserved_until=None if paid else now + timedelta(minutes=hold_minutes),
            payment_mode="none" if cash == 0 else ("stripe" if card_payments else "counter"), events=events)
        if order is None:
            return None
        told = [event[0] for event in events]
        if screen and screen(order, now):
            order.status, order.reserved_until = S.IN_REVIEW.value, None  # flushed before the stock UPDATE
            if not fast_path.held_for_review(event_ids):
                db.session.add(OrderEvent(order_id=order.id, kind="held_for_review", actor="system", note="",
                                          created_at=now))
            told, paid = ["placed", "held_for_review"], False
        for kind in told:  # the receivers (notifications, wallet, rights) hear what record() tells
            order_changed.send("checkout", order=order, kind=kind, now=now)
        # Stock last (see _write_order): hold() flushes whatever the receivers added first.
        reservations.hold(order.id, wants, until=now + timedelta(minutes=hold_minutes), now=now, sell=paid)
        return order
    except DomainError:
        if order is not None:  # built as already persistent: a rollback would leave it behind, expired
            for row in (order, *order.lines):
                if row in db.session:  # (the order's expunge may cascade to its line)
                    db.session.expunge(row)
        rollback()
        raise


def per_item_quantity(totals, item_id: int) -> int:
    return sum(l.quantity for l in totals.lines if l.item.id == item_id)


def new_number(now: datetime) -> str:
    return f"PM{now:%y%m%d}" + "".join(secrets.choice("23456789ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(6))


def _confirm(order: Order, now: datetime, *, actor: str = "system", note: str = "") -> None:
    reservations.confirm(order.id, now=now)
    settle_paid(order, now, actor=actor, note=note)


def locked_order(order_id: int) -> Order:
    order = db.session.execute(select(Order).where(Order.id == order_id).with_for_update()
                               .execution_options(populate_existing=True)).scalar_one_or_none()
    if order is None:
        raise NotFound()
    return order


def give_back_points(order: Order, now: datetime, why: str) -> None:
    """Refund every points spend of the order (first take, retakes, top-ups) to its lots, once per `why`."""
    keys = [f"order:{order.id}", f"order:{order.id}:retake", f"order:{order.id}:topup"]
    spends = db.session.scalars(select(LedgerEntry).where(
        LedgerEntry.source == "order", LedgerEntry.idempotency_key.in_(keys)).order_by(LedgerEntry.id)).all()
    for entry in spends:
        if entry is not None:
            left = refundable_points(entry)
            if left:
                refund_points(entry.id, left, reason="refund", source="order-refund",
                              key=f"{entry.idempotency_key}:{why}", now=now, reference=order.number)


def _release(order: Order, status: S, now: datetime, *, kind: str, actor: str = "system",
             actor_id=None, note: str = "") -> Order:
    released = reservations.release(order.id, now=now, reason=kind)
    give_back_points(order, now, kind)
    order.status, order.reserved_until = status.value, None
    record(order, kind, now, actor=actor, actor_id=actor_id, note=note)
    _give_back_admission(released)
    return order


def _give_back_admission(stock_lines) -> None:
    """Units back in the Redis admission counter once the release is committed: given back
    earlier, a rolled-back release would admit buyers for stock the database still holds."""
    admission = app_admission()
    for r in stock_lines:
        after_commit(admission.give_back, r.item_id, r.quantity)


def confirm_at_counter(order_id: int, member_id: int, now: datetime) -> Order:
    """The member chooses to pay the cash part at the store counter when picking up. Returns
    the order ready, or expired when its hold had already run out (points and stock back)."""
    order = locked_order(order_id)
    if order.member_id != member_id:
        raise NotFound()
    if order.status == S.READY.value:
        return order  # a second tap
    if order.status != S.AWAITING_PAYMENT.value or order.payment_mode != "counter":
        raise NotCancellable(_l("This order is no longer waiting for payment."))
    if order.kind in INSTANT_KINDS:  # delivered at once: its cash part would never be collected
        raise NotCancellable(_l("This order can't be paid at the counter: there is nothing to pick up."))
    if order.reserved_until <= now:
        # An outcome, not a refusal: the expiry is recorded and the member is shown it.
        return expire_order(order.id, now)
    _confirm(order, now, actor="member", note="cash due at the counter")
    return order


def cancel_order(order_id: int, member_id: int, now: datetime) -> Order:
    order = locked_order(order_id)
    if order.member_id != member_id:
        raise NotFound()
    if order.status == S.CANCELLED.value:
        return order
    if order.status != S.AWAITING_PAYMENT.value:
        raise NotCancellable()
    if order.payment is not None and order.payment.status in ("processing", "succeeded"):
        raise NotCancellable(_l("Your payment is being processed; the order can't be cancelled now."))
    return _release(order, S.CANCELLED, now, kind="cancelled", actor="member", actor_id=member_id)


def expire_order(order_id: int, now: datetime) -> Order:
    order = locked_order(order_id)
    if order.status != S.AWAITING_PAYMENT.value or order.reserved_until is None or order.reserved_until > now:
        return order
    if order.payment is not None and order.payment.status == "processing":
        return order  # the hold covers a slow payment; the webhook decides
    return _release(order, S.EXPIRED, now, kind="expired", note="the hold ran out before payment")


def claim_for_expiry(order_id: int) -> Order | None:
    """Lock an order for the expiry job, or None when another worker holds it (SKIP LOCKED):
    two workers walking the same due list each take different orders instead of queueing
    behind each other on every row. expire_order() checks the status again under the lock."""
    return db.session.execute(select(Order).where(Order.id == order_id).with_for_update(skip_locked=True)
                              .execution_options(populate_existing=True)).scalar_one_or_none()


def due_for_expiry(now: datetime, limit: int = 500) -> list[int]:
    return list(db.session.scalars(select(Order.id).where(
        Order.status == S.AWAITING_PAYMENT.value, Order.reserved_until <= now).order_by(Order.id).limit(limit)))


def member_orders(member_id: int, page: int = 1, per_page: int = 20):
    p = paginate(select(Order).where(Order.member_id == member_id)
                 .order_by(Order.created_at.desc(), Order.id.desc()), page, per_page)
    return p.items, p.page, p.pages


def member_order(order_id: int, member_id: int) -> Order:
    order = db.session.get(Order, order_id)
    if order is None or order.member_id != member_id:
        raise NotFound()
    return order


class NotRefundable(DomainError):
    message = _l("Only an order that is ready for pickup can be refunded in full.")


def refund_order(order_id: int, *, now: datetime, actor_id: int, reason: str, actor: str = "staff") -> Order:
    """Refund an order in full: stock back on the shelf, points back to their lots, and a
    card payment marked for refund (sent after commit by send_due_refunds). Idempotent."""
    if not (reason or "").strip():
        raise DomainError(_l("Give a reason for the refund."), field="reason")
    order = locked_order(order_id)
    if order.status == S.REFUNDED.value:
        return order
    if order.status != S.READY.value:
        raise NotRefundable()
    returned = reservations.unsell(order.id, now=now, reason="refund")
    give_back_points(order, now, "refund")
    if order.payment is not None and order.payment.status == "succeeded":
        order.payment.status, order.payment.updated_at = "refund_due", now
    order.status = S.REFUNDED.value
    record(order, "refunded", now, actor=actor, actor_id=actor_id, note=reason.strip())
    _give_back_admission(returned)
    return order


def find_by_number(number: str) -> Order:
    order = db.session.scalar(select(Order).where(Order.number == (number or "").strip().upper()))
    if order is None:
        raise NotFound()
    return order
