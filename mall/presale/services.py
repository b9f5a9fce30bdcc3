"""Presale: pre-orders within a cap, first-come-first-served allocation when stock arrives,
and shortfall offers (a substitute, settled in points, or a full refund).

- A pre-order takes its place with one conditional UPDATE on the presale
  (`taken = taken + q WHERE taken + q <= cap`), so the cap holds under any concurrency; its
  points are taken at once, in the same transaction.
- Allocation locks the presale row, so two workers run it one after the other, and each
  pre-order is sold through inventory.hold(sell=True), whose reservation is unique per
  order and item: every unit is allocated once, however often allocation runs.
- Once the ship date has come, pre-orders the stock could not serve get an offer with a
  deadline when a substitute is there for them, and an automatic full refund when none is;
  an expired offer refunds by itself (`mall jobs`). Nobody is left in silence.
- Stock taken here bypasses Redis admission (it is not a member's tap), so the item's
  admission counter is reset from the database afterwards; the counter is advisory anyway.
"""
from datetime import date, datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from .. import shoptime
from ..catalog.management import InvalidItem, get_item, record_change
from ..catalog.substitutes import offers_for
from ..checkout.models import Order, OrderEvent, OrderStatus
from ..checkout.orders import (check_item_limit, check_limits, find_by_key, give_back_points, locked_order, record,
                               write_order)
from ..checkout.quotes import LineRequest, price
from ..events import presale_news
from ..errors import DomainError, InsufficientPoints, NotFound
from ..extensions import db
from ..idempotency import insert_once
from ..inventory import reservations
from ..inventory.admission import app_admission
from ..inventory.reservations import OutOfStock, Want
from ..inventory.services import receive_stock
from ..pagination import paginate
from ..rights.services import holds
from ..points.ledger import lock_account, refund_points, spend_points
from ..points.models import LedgerEntry
from ..points.tiers import tier_status
from ..points.statement import spendable
from ..settings import current as current_settings
from ..unit_of_work import after_commit
from .models import Presale

S = OrderStatus


class PresaleClosed(DomainError):
    message = _l("Pre-orders for this item are not open.")


class PresaleFull(DomainError):
    message = _l("All pre-order places are taken.")
    field = "quantity"


class TopUpNeeded(DomainError):
    def __init__(self, points: int):
        self.points = points
        super().__init__(_l("This substitute costs %(n)s more points. Confirm to pay the difference.", n=points))


def presale_for(item_id: int) -> Presale | None:
    return db.session.scalar(select(Presale).where(Presale.item_id == item_id))


def _presale_snapshot(presale: Presale | None) -> dict:
    if presale is None:
        return {}
    return {"presale_opens_at": presale.opens_at.isoformat(), "presale_closes_at": presale.closes_at.isoformat(),
            "presale_cap": presale.cap, "presale_ships_on": presale.ships_on.isoformat(),
            "presale_offer_hours": presale.offer_hours,
            "presale_priority_opens_at": presale.priority_opens_at.isoformat() if presale.priority_opens_at else None}


def save_presale(item_id: int, *, opens_at: datetime, closes_at: datetime, cap: int, ships_on: date,
                 offer_hours: int, now: datetime, actor_id: int | None = None,
                 priority_opens_at: datetime | None = None) -> Presale:
    """Open or change an item's presale, recorded in the item's history. Refuses a window
    that ends before it starts, a ship date before pre-orders open, and a cap below the
    places already taken (checked with the presale row locked, so no pre-order slips in)."""
    get_item(item_id)
    if closes_at <= opens_at:
        raise InvalidItem(_l("The window must end after it starts."), field="closes_at")
    if not isinstance(cap, int) or cap <= 0:
        raise InvalidItem(_l("The cap must be a whole number above zero."), field="cap")
    if not isinstance(offer_hours, int) or not 1 <= offer_hours <= 720:
        raise InvalidItem(_l("Between 1 and 720 hours."), field="offer_hours")
    if priority_opens_at is not None and priority_opens_at >= opens_at:
        raise InvalidItem(_l("Priority access must open before pre-orders open for everyone."),
                          field="priority_opens_at")
    if ships_on < _shop_day(opens_at):
        raise InvalidItem(_l("The ship date can't be before pre-orders open."), field="ships_on")
    presale = db.session.execute(select(Presale).where(Presale.item_id == item_id).with_for_update()
                                 .execution_options(populate_existing=True)).scalar_one_or_none()
    if presale is None:
        presale = Presale(item_id=item_id, taken=0, created_at=now)
        db.session.add(presale)
    elif cap < presale.taken:
        raise InvalidItem(_l("%(n)s places are already taken; the cap can't go below that.", n=presale.taken),
                          field="cap")
    before = _presale_snapshot(presale if presale.id else None)
    presale.opens_at, presale.closes_at, presale.cap = opens_at, closes_at, cap
    presale.priority_opens_at = priority_opens_at
    presale.ships_on, presale.offer_hours = ships_on, offer_hours
    db.session.flush()
    record_change(item_id, "presale", before, _presale_snapshot(presale), actor_id=actor_id, now=now)
    return presale


def presale_access(presale: Presale, member_id: int | None, now: datetime) -> str:
    """"open" (everyone may pre-order), "priority" (the priority window, and this member
    holds priority purchase), "priority_only" (the priority window, not for this member),
    or "closed"."""
    if presale.is_open(now):
        return "open"
    if presale.in_priority_window(now):
        return "priority" if holds(member_id, "priority_purchase", now) else "priority_only"
    return "closed"


def check_presale_access(presale: Presale, member_id: int, now: datetime) -> None:
    access = presale_access(presale, member_id, now)
    if access == "priority_only":
        local = presale.opens_at.astimezone(shoptime.shop_zone(_zone()))
        raise PresaleClosed(_l("Priority access only for now. Opens for everyone at %(time)s.",
                               time=f"{local:%Y-%m-%d %H:%M}"))
    if access == "closed":
        raise PresaleClosed()


def preorder(member_id: int, presale_id: int, request: LineRequest, *, key: str, now: datetime,
             points_per_unit: int) -> Order:
    """Take a place in the queue and the points, once per key (two submits of one key at
    once: one order, one place, both answered with it). Raises PresaleClosed, PresaleFull,
    InsufficientPoints, ItemLocked, InvalidOffset, LimitReached."""
    existing = find_by_key(member_id, key)
    if existing is not None:
        return existing
    presale = db.session.get(Presale, presale_id)
    if presale is None or presale.item_id != request.item_id:
        raise NotFound()
    check_presale_access(presale, member_id, now)
    totals = price(member_id, [request], now, points_per_unit=points_per_unit)
    if totals.points > totals.balance:
        raise InsufficientPoints(needed=totals.points, available=totals.balance)
    line = totals.lines[0]
    with db.session.begin_nested():
        lock_account(member_id, now)  # serialises this member's orders: the limit check is race-free
        # A twin submit of this key (a double tap) held the row until it committed: its order
        # is the answer, and this one takes no second place in the queue.
        twin = find_by_key(member_id, key)
        if twin is not None:
            return twin
        check_limits(member_id, totals)

        def take_place() -> Order:
            # A Core UPDATE of the table: the ORM's would move the catalogue cache's version
            # (presales are watched for Item.presale_id) on every pre-order.
            presales = Presale.__table__
            position = db.session.execute(
                update(presales).where(presales.c.id == presale_id, presales.c.taken + line.quantity <= presales.c.cap)
                .values(taken=presales.c.taken + line.quantity).returning(presales.c.taken)).scalar()
            if position is None:
                raise PresaleFull()
            order = write_order(member_id, totals, status=S.PREORDERED.value, key=key, now=now,
                                presale_id=presale_id, queue_position=position, label=" (pre-order)")
            record(order, "preordered", now, actor="member", actor_id=member_id,
                   note=f"place {position} of {presale.cap}, ships {presale.ships_on.isoformat()}")
            return order
        # Should the key's order still appear first (UNIQUE (member, key)), the place taken
        # here is undone with the insert (the savepoint) and that order is the answer.
        order, _created = insert_once(take_place, lambda: find_by_key(member_id, key))
    return order


def allocate(presale_id: int, now: datetime) -> dict:
    """Serve pre-orders first come, first served from the stock on hand; once the ship date
    has come, serve in queue order each one the rest of the stock still covers and offer the
    others a substitute (or refund them in full when there is none for them). Idempotent and
    safe in two workers: the presale row is locked first, so a second run waits, then finds
    nothing left to serve."""
    presale = db.session.execute(select(Presale).where(Presale.id == presale_id).with_for_update()
                                 .execution_options(populate_existing=True)).scalar_one()
    waiting = db.session.scalars(
        select(Order).where(Order.presale_id == presale_id, Order.status == S.PREORDERED.value)
        .order_by(Order.queue_position).with_for_update().execution_options(populate_existing=True)).all()
    served, offered, refunded = 0, 0, 0
    for order in waiting:
        if not _serve(order, now):
            break  # before the ship date more stock may come: nobody behind jumps the queue
        served += 1
    if _shop_day(now) >= presale.ships_on:  # the ship date is a shop-local date
        for order in waiting:
            if order.status != S.PREORDERED.value:
                continue
            # No more stock is coming for this queue: a later order the rest still covers is
            # served rather than offered a substitute while its units wait on the shelf.
            if _serve(order, now):
                served += 1
            elif offer_choices(order, now):
                order.status, order.offer_deadline = S.OFFERED.value, now + timedelta(hours=presale.offer_hours)
                deadline = order.offer_deadline.astimezone(shoptime.shop_zone(_zone()))  # as the member reads it
                record(order, "shortfall_offer", now,
                       note=f"choose a substitute or a full refund by {deadline:%Y-%m-%d %H:%M}")
                _tell(order, "shortfall", now)
                offered += 1
            else:
                _refund(order, now, kind="shortfall_refunded", actor="system")
                refunded += 1
    db.session.flush()
    if served:
        _resync_admission(presale.item_id)
    return {"served": served, "offered": offered, "refunded": refunded}


def _serve(order: Order, now: datetime) -> bool:
    """Sell the pre-order its units from the stock on hand and tell the member; False (nothing
    written) when the stock doesn't cover it."""
    wants = [Want(l.item_id, l.quantity) for l in order.lines]
    try:
        with db.session.begin_nested():
            reservations.hold(order.id, wants, until=now, now=now, sell=True)
    except OutOfStock:
        return False
    order.status = S.READY.value
    record(order, "ready_for_pickup", now, note="presale stock arrived")
    _tell(order, "ready", now)
    return True


def _zone() -> str:
    return current_settings().timezone


def _shop_day(at: datetime) -> date:
    """The shop-local date of `at`: ship dates are the shop's calendar days, not UTC's."""
    return shoptime.local_day(at, _zone())


def _tell(order: Order, event: str, now: datetime) -> None:
    """Tell the member (inbox, then email by the delivery job): written in this transaction,
    so a rolled-back allocation tells nobody, and keyed per order and event, so running the
    allocation again never repeats the news."""
    presale_news.send("presale", order=order, event=event, now=now)


def _resync_admission(item_id: int) -> None:
    """Reset the item's admission counter from the database once this transaction commits."""
    admission = app_admission()
    after_commit(lambda: admission.resync(item_id, reservations.available(item_id)))


def allocate_for_item(item_id: int, now: datetime) -> dict | None:
    presale = presale_for(item_id)
    return allocate(presale.id, now) if presale is not None else None


def receive_goods(item_id: int, quantity: int, *, reference: str, reason: str, now: datetime,
                  actor_id: int | None = None) -> dict | None:
    """Receive stock, then serve the item's pre-orders from it before anyone else can buy
    it: both in the caller's transaction, so nobody sees the stock without the queue served.
    Returns the allocation's outcome for a presale item, None for any other."""
    receive_stock(item_id, quantity, reference=reference, reason=reason, now=now, actor_id=actor_id)
    return allocate_for_item(item_id, now)


def due_presales(now: datetime) -> list[int]:
    """Presales with pre-orders still waiting: the jobs command allocates them."""
    return list(db.session.scalars(select(Order.presale_id).where(
        Order.presale_id.is_not(None), Order.status == S.PREORDERED.value).distinct()))


def _offer_order(order_id: int, member_id: int, now: datetime) -> Order:
    """The member's open offer, locked. An offer past its deadline is refunded here and
    returned refunded: an outcome the caller shows, not a refusal (it was written)."""
    order = locked_order(order_id)
    if order.member_id != member_id:
        raise NotFound()
    if order.status != S.OFFERED.value:
        raise DomainError(_l("This offer is no longer open."))
    if order.offer_deadline <= now:
        return expire_offer(order.id, now)
    return order


def offer_expired(order: Order) -> bool:
    """True for an order whose offer ran out before the member answered (and was refunded)."""
    return order.status == S.REFUNDED.value and db.session.scalar(select(OrderEvent.id).where(
        OrderEvent.order_id == order.id, OrderEvent.kind == "offer_expired").limit(1)) is not None


def accept_substitute(order_id: int, member_id: int, substitute_id: int, *, now: datetime,
                      confirm_top_up: bool = False) -> Order:
    """Switch a shortfall pre-order to a substitute. The difference is settled in points:
    a cheaper substitute refunds the surplus; a dearer one needs the member's confirmation
    (TopUpNeeded) and then takes the top-up. Refuses a substitute beyond its per-member
    limit (LimitReached), changing nothing."""
    order = locked_order(order_id)
    if (order.member_id == member_id and order.status == S.READY.value
            and order.lines[0].item_id == substitute_id):
        return order  # a second tap on the same choice
    order = _offer_order(order_id, member_id, now)
    if order.status != S.OFFERED.value:
        return order  # the offer ran out: refunded instead
    line = order.lines[0]
    status = tier_status(member_id, now)
    offers = {c.item.id: c for c in offers_for(line.item_id, status, 0, now)}
    card = offers.get(substitute_id)
    if card is None:
        raise DomainError(_l("That substitute is not available any more; choose another or take the refund."))
    new_total = card.price * line.quantity
    difference = new_total - line.points
    check_item_limit(member_id, card.item, line.quantity)  # before asking for a top-up it couldn't take
    if difference > 0 and not confirm_top_up:
        raise TopUpNeeded(difference)
    with db.session.begin_nested():
        lock_account(member_id, now)  # serialises the member's orders: the limit check is race-free
        # The substitute is an item the member then holds like any other: its per-member
        # limit counts (refused here before anything is written; LimitReached).
        check_item_limit(member_id, card.item, line.quantity)
        if difference > 0:
            if spendable(member_id, now) < difference:
                raise InsufficientPoints(needed=difference, available=spendable(member_id, now))
            spend_points(member_id, difference, reason="redeem", source="order", key=f"order:{order.id}:topup",
                         now=now, reference=order.number, queue=False,
                         detail={"item": f"{card.item.name} (substitute top-up)"})
        elif difference < 0:
            spend = db.session.scalar(select(LedgerEntry).where(LedgerEntry.source == "order",
                                                                LedgerEntry.idempotency_key == f"order:{order.id}"))
            refund_points(spend.id, -difference, reason="refund", source="order-refund",
                          key=f"order:{order.id}:substitute-surplus", now=now, reference=order.number)
        reservations.hold(order.id, [Want(card.item.id, line.quantity)], until=now, now=now, sell=True)
        note = f"{line.item_name} → {card.item.name}; points {line.points} → {new_total}"
        # The substitute is settled in points alone: a cash part of the pre-order was never
        # collected (it is paid at the counter on pickup), so it is dropped with the plan.
        line.item_id, line.item_name, line.plan_id, line.plan_kind = card.item.id, card.item.name, None, "points"
        line.points, line.cash_minor, line.offset_points = new_total, 0, 0
        order.points_total = order.points_total + difference
        order.cash_total_minor, order.payment_mode = 0, "none"
        order.status, order.offer_deadline = S.READY.value, None
        record(order, "substituted", now, actor="member", actor_id=member_id, note=note)
    _resync_admission(card.item.id)
    return order


def decline_offer(order_id: int, member_id: int, now: datetime) -> Order:
    order = _offer_order(order_id, member_id, now)
    if order.status != S.OFFERED.value:
        return order  # the offer ran out a moment ago: refunded already
    return _refund(order, now, kind="offer_declined", actor="member", actor_id=member_id)


def expire_offer(order_id: int, now: datetime) -> Order:
    order = locked_order(order_id)
    if order.status != S.OFFERED.value or order.offer_deadline > now:
        return order
    return _refund(order, now, kind="offer_expired", actor="system")


def _refund(order: Order, now: datetime, *, kind: str, actor: str, actor_id=None) -> Order:
    give_back_points(order, now, kind)
    order.status, order.offer_deadline = S.REFUNDED.value, None
    record(order, kind, now, actor=actor, actor_id=actor_id, note="full refund")
    if actor == "system":  # the member didn't ask for it, so tell them
        _tell(order, "refunded", now)
    return order


def expire_offers(now: datetime) -> int:
    ids = db.session.scalars(select(Order.id).where(Order.status == S.OFFERED.value, Order.offer_deadline <= now)).all()
    return sum(expire_offer(i, now).status == S.REFUNDED.value for i in ids)


def queue(presale_id: int) -> list[Order]:
    return list(db.session.scalars(select(Order).where(Order.presale_id == presale_id)
                                   .order_by(Order.queue_position)))


def queue_page(presale_id: int, *, page: int = 1, per_page: int = 50) -> tuple[list[Order], int, int]:
    """One page of the queue in first-come-first-served order. Returns orders, page, pages."""
    p = paginate(select(Order).where(Order.presale_id == presale_id).order_by(Order.queue_position), page, per_page)
    return p.items, p.page, p.pages


def offer_choices(order: Order, now: datetime) -> list[tuple]:
    """(card, points difference) for each substitute the member could switch to now."""
    line = order.lines[0]
    status = tier_status(order.member_id, now)
    return [(card, card.price * line.quantity - line.points) for card in offers_for(line.item_id, status, 0, now)]
