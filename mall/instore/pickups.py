"""Handing a redeemed order over at a store counter (DESIGN.md #5: a pickup code redeems
once, at a store allowed to hand the item over; a forged, expired or replayed code gets a
clear refusal).

Checks, in this order, each with its own refusal: the code parses and its MAC matches the
order (InvalidCode: forged or tampered), the order was not handed over already
(AlreadyPickedUp, naming where, when and by whom), it is ready (NotReadyForPickup), its
pickup window is open (PickupExpired), this store may hand its items over (WrongStore),
and the member is not frozen (MemberFrozen).

Exactly once: `hand_over` locks the order row, re-checks, and inserts the Pickup row,
whose UNIQUE (order_id) makes a second insert fail even if two counters scanned the same
code at the same instant and the row lock were somehow bypassed.
"""
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..accounts.models import User
from ..checkout.models import Order, OrderEvent, OrderStatus
from ..checkout.orders import locked_order, record
from ..extensions import db
from .codes import PickupCode, parse_pickup_code, pickup_code, qr_svg, verify_pickup_code
from .errors import (AlreadyPickedUp, CashMethodNeeded, InvalidCode, MemberFrozen, NotReadyForPickup,
                     NotYourStore, PickupExpired, WrongStore)
from .models import CASH_METHODS, ApiKey, ItemPickupStore, Pickup, Store, StoreStaff
from .services import mask_name

READY_EVENTS = ("ready_for_pickup", "substituted")


def staff_stores(user_id: int) -> list[Store]:
    return list(db.session.scalars(select(Store).join(StoreStaff, StoreStaff.store_id == Store.id)
                                   .where(StoreStaff.user_id == user_id).order_by(Store.name)))


def check_staff_store(user_id: int, store_id: int | None) -> Store:
    """The store the staff member acts for; raises NotYourStore unless they are bound to it."""
    store = next((s for s in staff_stores(user_id) if s.id == store_id), None)
    if store is None:
        raise NotYourStore()
    return store


def allowed_stores(order: Order) -> list[Store]:
    """Pickup points that may hand over every item of the order: an item restricted to some
    stores narrows the set; an unrestricted item can be handed over at any pickup point."""
    stores = {s.id: s for s in db.session.scalars(select(Store).where(Store.pickup_point.is_(True)))}
    allowed = set(stores)
    item_ids = {line.item_id for line in order.lines}
    restrictions: dict[int, set[int]] = {}
    for item_id, store_id in db.session.execute(select(ItemPickupStore.item_id, ItemPickupStore.store_id)
                                                .where(ItemPickupStore.item_id.in_(item_ids))):
        restrictions.setdefault(item_id, set()).add(store_id)
    for store_ids in restrictions.values():
        allowed &= store_ids
    return sorted((stores[i] for i in allowed), key=lambda s: s.name)


def ready_since(order: Order) -> datetime:
    at = db.session.scalar(select(func.max(OrderEvent.created_at)).where(
        OrderEvent.order_id == order.id, OrderEvent.kind.in_(READY_EVENTS)))
    if at is not None and at.tzinfo is None:  # func.max bypasses the column type on SQLite
        at = at.replace(tzinfo=timezone.utc)
    return at or order.created_at


def pickup_deadline(order: Order, pickup_days: int) -> datetime:
    return ready_since(order) + timedelta(days=pickup_days)


def pickup_of(order_id: int) -> Pickup | None:
    return db.session.scalar(select(Pickup).where(Pickup.order_id == order_id))


def handed_over_by(pickup: Pickup) -> str:
    if pickup.staff_id is not None:
        staff = db.session.get(User, pickup.staff_id)
        return staff.display_name if staff else "-"
    key = db.session.get(ApiKey, pickup.api_key_id) if pickup.api_key_id else None
    return str(_l("the till (%(name)s)", name=key.name)) if key else "-"


@dataclass(frozen=True)
class PickupPanel:
    """What the member's order page shows about collecting the order."""
    status: str
    code: PickupCode | None
    svg: str | None
    stores: list[Store]
    deadline: datetime | None
    expired: bool
    pickup: Pickup | None
    handed_over_by: str | None


def pickup_panel(order: Order, now: datetime, *, pickup_days: int) -> PickupPanel | None:
    """Read only: the code is derived, never stored, so showing it writes nothing."""
    if order.status not in (OrderStatus.READY.value, OrderStatus.PICKED_UP.value) or order.kind != "goods":
        return None  # a coupon, red packet, right or service has nothing to pick up
    pickup = pickup_of(order.id)
    if order.status == OrderStatus.PICKED_UP.value or pickup is not None:
        return PickupPanel(status="picked_up", code=None, svg=None, stores=[], deadline=None, expired=False,
                           pickup=pickup, handed_over_by=handed_over_by(pickup) if pickup else None)
    deadline = pickup_deadline(order, pickup_days)
    code = pickup_code(order.id, order.number)
    expired = deadline <= now
    return PickupPanel(status="ready", code=None if expired else code, svg=None if expired else qr_svg(code.qr_text),
                       stores=allowed_stores(order), deadline=deadline, expired=expired, pickup=None,
                       handed_over_by=None)


@dataclass(frozen=True)
class CounterOrder:
    """What the counter sees before handing over: enough to check, no more."""
    order_id: int
    number: str
    code: str
    lines: list[tuple[str, int]]
    masked_name: str
    member_code: str
    points_total: int
    cash_due_minor: int
    deadline: datetime
    store: Store


def _order_for_code(text: str) -> Order:
    parsed = parse_pickup_code(text)
    if parsed is None:
        raise InvalidCode()
    order = db.session.get(Order, parsed.order_id)
    if order is None or not verify_pickup_code(parsed, order.number):
        raise InvalidCode()
    return order


def _check(order: Order, store: Store, now: datetime, pickup_days: int) -> datetime:
    pickup = pickup_of(order.id)
    if pickup is not None:
        raise AlreadyPickedUp(pickup.store.name, pickup.picked_up_at, handed_over_by(pickup))
    if order.status != OrderStatus.READY.value or order.kind != "goods":
        raise NotReadyForPickup()
    deadline = pickup_deadline(order, pickup_days)
    if deadline <= now:
        raise PickupExpired(deadline)
    allowed = allowed_stores(order)
    if store.id not in {s.id for s in allowed}:
        raise WrongStore([s.name for s in allowed])
    member = db.session.get(User, order.member_id)
    if member.is_frozen:
        raise MemberFrozen()
    return deadline


def _store(store_id: int | None) -> Store:
    store = db.session.get(Store, store_id) if store_id else None
    if store is None:
        raise NotYourStore()
    return store


def _canonical(order: Order) -> str:
    return pickup_code(order.id, order.number).short


def find_for_counter(text: str, *, store_id: int, now: datetime, pickup_days: int) -> CounterOrder:
    """Preview an order from its code at a store. Raises the refusals listed above."""
    order = _order_for_code(text)
    store = _store(store_id)
    deadline = _check(order, store, now, pickup_days)
    member = db.session.get(User, order.member_id)
    return CounterOrder(order_id=order.id, number=order.number, code=_canonical(order),
                        lines=[(l.item_name, l.quantity) for l in order.lines],
                        masked_name=mask_name(member.display_name), member_code=member.member_code,
                        points_total=order.points_total, cash_due_minor=order.cash_due_at_counter,
                        deadline=deadline, store=store)


def hand_over(text: str, *, store_id: int, now: datetime, pickup_days: int, staff_id: int | None = None,
              api_key_id: int | None = None, cash_method: str | None = None) -> Pickup:
    """Redeem a pickup code once: the order becomes picked up, the cash part still due (if
    any) is recorded with how it was paid. Raises the refusals above or CashMethodNeeded."""
    order = locked_order(_order_for_code(text).id)  # concurrent scans queue here
    store = _store(store_id)
    _check(order, store, now, pickup_days)
    cash = order.cash_due_at_counter
    if cash and cash_method not in CASH_METHODS:
        raise CashMethodNeeded()
    try:
        with db.session.begin_nested():
            pickup = Pickup(order_id=order.id, store_id=store.id, staff_id=staff_id, api_key_id=api_key_id,
                            cash_minor=cash, cash_method=cash_method if cash else None, picked_up_at=now)
            db.session.add(pickup)
            db.session.flush()
    except IntegrityError:  # the other scan won (only reachable without row locks)
        pickup = pickup_of(order.id)
        raise AlreadyPickedUp(pickup.store.name, pickup.picked_up_at, handed_over_by(pickup)) from None
    order.cash_collected_minor += cash
    order.status = OrderStatus.PICKED_UP.value
    note = store.name + (f"; {cash / 100:.2f} {cash_method}" if cash else "")
    record(order, "picked_up", now, actor="staff" if staff_id else "system", actor_id=staff_id, note=note)
    return pickup
