"""Service slots and bookings (issue 13).

- A slot's places are taken by one conditional UPDATE (`booked = booked + 1 WHERE booked <
  capacity`), backed by CHECK (booked <= capacity): two members never get the last place.
- A service's stock is its slots' capacity: adding slots receives that many units into the
  item's inventory, so the catalogue, Redis admission and the per-order stock hold work as
  for goods; the slot is the finer limit, taken in the order's transaction at checkout.
- A booking moves once (reschedule_count, CHECK <= 1) and only up to the cut-off before
  its start; cancelling refunds the order, and the order's "refunded" (or expired,
  cancelled...) event gives the slot back (receivers.py), so every way out frees the place.
- Staff of the slot's store mark a booking done; the order is then fulfilled.
"""
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from ..catalog.management import record_change
from ..checkout.models import Order, OrderStatus
from ..checkout.orders import locked_order, record
from ..errors import DomainError, NotFound
from ..extensions import db
from ..instore.models import Store
from ..inventory.services import receive_stock
from .models import HOLDING, Booking, ServiceSlot

MAX_REPEAT_DAYS = 31
S = OrderStatus


class SlotUnavailable(DomainError):
    field = "slot_id"
    message = _l("That time slot is no longer available. Choose another one.")


class BookingLocked(DomainError):
    pass


def open_slots(item_id: int, now: datetime, limit: int = 60) -> list[ServiceSlot]:
    """Future slots of the item with a place left, soonest first."""
    return list(db.session.scalars(
        select(ServiceSlot).where(ServiceSlot.item_id == item_id, ServiceSlot.starts_at > now,
                                  ServiceSlot.booked < ServiceSlot.capacity)
        .order_by(ServiceSlot.starts_at, ServiceSlot.id).limit(limit)))


def upcoming_slots(item_id: int, now: datetime, limit: int = 200) -> list[ServiceSlot]:
    return list(db.session.scalars(
        select(ServiceSlot).where(ServiceSlot.item_id == item_id, ServiceSlot.ends_at > now)
        .order_by(ServiceSlot.starts_at, ServiceSlot.id).limit(limit)))


def add_slots(item, *, starts_at: datetime, minutes: int, store_id: int, at_home: bool, capacity: int,
              repeat_days: int, now: datetime, actor_id: int | None = None) -> list[ServiceSlot]:
    """Add a slot, repeated at the same time on the next `repeat_days - 1` days, and receive
    their capacity as the item's stock. Refuses a non-service item, a start in the past,
    an unknown store and out-of-range numbers; nothing is written then."""
    if item.kind != "service":
        raise DomainError(_l("Only a service has time slots."))
    if starts_at <= now:
        raise DomainError(_l("A slot must start in the future."), field="starts_at")
    if not 15 <= minutes <= 24 * 60:
        raise DomainError(_l("Between 15 minutes and 24 hours."), field="minutes")
    if not 1 <= capacity <= 1000:
        raise DomainError(_l("Between 1 and 1000 places."), field="capacity")
    if not 1 <= repeat_days <= MAX_REPEAT_DAYS:
        raise DomainError(_l("Between 1 and %(n)s days.", n=MAX_REPEAT_DAYS), field="repeat_days")
    if db.session.get(Store, store_id) is None:
        raise DomainError(_l("There is no such store."), field="store_id")
    slots = [ServiceSlot(item_id=item.id, starts_at=starts_at + timedelta(days=d),
                         ends_at=starts_at + timedelta(days=d, minutes=minutes), store_id=store_id,
                         at_home=at_home, capacity=capacity, booked=0, created_at=now)
             for d in range(repeat_days)]
    db.session.add_all(slots)
    db.session.flush()
    receive_stock(item.id, capacity * repeat_days, reference=f"slots {slots[0].id}-{slots[-1].id}",
                  reason="service slots", now=now, actor_id=actor_id)
    record_change(item.id, "slots", {}, {"slots": len(slots), "capacity": capacity,
                                         "starts_at": starts_at.isoformat(), "minutes": minutes},
                  actor_id=actor_id, now=now)
    return slots


def _take_place(slot_id: int) -> bool:
    return bool(db.session.execute(
        update(ServiceSlot).where(ServiceSlot.id == slot_id, ServiceSlot.booked < ServiceSlot.capacity)
        .values(booked=ServiceSlot.booked + 1).execution_options(synchronize_session=False)).rowcount)


def _give_place_back(slot_id: int) -> None:
    db.session.execute(update(ServiceSlot).where(ServiceSlot.id == slot_id, ServiceSlot.booked > 0)
                       .values(booked=ServiceSlot.booked - 1).execution_options(synchronize_session=False))


def bookable_slot(item_id: int, slot_id: int | None, address: str, now: datetime) -> ServiceSlot:
    """Check a member's choice before anything is written: the slot is the item's, in the
    future, with a place left, and an at-home slot has an address. Raises SlotUnavailable
    or DomainError (field "address")."""
    slot = db.session.get(ServiceSlot, slot_id) if slot_id else None
    if slot is None or slot.item_id != item_id or slot.starts_at <= now or slot.booked >= slot.capacity:
        raise SlotUnavailable()
    if slot.at_home and not (address or "").strip():
        raise DomainError(_l("Enter the address where the service takes place."), field="address")
    return slot


def book(order: Order, *, slot_id: int, address: str, now: datetime) -> Booking:
    """Take one place in the slot for a service order (called by checkout inside the
    order's transaction). Raises SlotUnavailable when the slot filled up meanwhile: the
    caller's savepoint then undoes the order."""
    slot = db.session.get(ServiceSlot, slot_id)
    if slot is None or slot.item_id != order.lines[0].item_id or slot.starts_at <= now or not _take_place(slot_id):
        raise SlotUnavailable()
    booking = Booking(order_id=order.id, slot_id=slot_id, member_id=order.member_id, status="booked",
                      address=(address or "").strip()[:200] if slot.at_home else "", reschedule_count=0,
                      created_at=now, updated_at=now)
    db.session.add(booking)
    db.session.flush()
    return booking


def booking_of(order_id: int) -> Booking | None:
    return db.session.scalar(select(Booking).where(Booking.order_id == order_id))


def _locked_booking(order_id: int, member_id: int) -> Booking:
    order = locked_order(order_id)
    booking = db.session.execute(select(Booking).where(Booking.order_id == order_id).with_for_update()
                                 .execution_options(populate_existing=True)).scalar_one_or_none()
    if booking is None or order.member_id != member_id:
        raise NotFound()
    return booking


def can_change(booking: Booking, now: datetime, cutoff_hours: int) -> bool:
    return booking.status in HOLDING and now < booking.slot.starts_at - timedelta(hours=cutoff_hours)


def _lock_slots(slot_ids: list[int]) -> None:
    """Lock the slots' rows in id order (CONVENTIONS: locks in id order), so that two moves
    in opposite directions (A to B and B to A) wait for each other instead of deadlocking."""
    db.session.scalars(select(ServiceSlot).where(ServiceSlot.id.in_(slot_ids)).order_by(ServiceSlot.id)
                       .with_for_update().execution_options(populate_existing=True)).all()


def reschedule(order_id: int, member_id: int, slot_id: int | None, *, now: datetime, cutoff_hours: int,
               address: str | None = None) -> Booking:
    """Move a booking to another slot of the same service, once, up to `cutoff_hours`
    before its start. Refuses a second move, a move after the cut-off, a full or past slot
    and an at-home slot without an address (`address`, or the booking's own when None is
    given) (checked before writing; the conditional UPDATE decides a race, and then
    nothing was written either). The two slots' rows are locked in id order first."""
    booking = _locked_booking(order_id, member_id)
    if booking.status not in HOLDING:
        raise BookingLocked(_l("This booking can no longer be changed."))
    if booking.reschedule_count >= 1:
        raise BookingLocked(_l("A booking can be rescheduled once; this one already was."))
    if not can_change(booking, now, cutoff_hours):
        raise BookingLocked(_l("It is too late to reschedule: changes close %(n)s hours before the start.",
                               n=cutoff_hours))
    if slot_id == booking.slot_id:
        raise SlotUnavailable(_l("Choose a different time slot."))
    address = (booking.address if address is None else address) or ""
    if slot_id:
        _lock_slots([slot_id, booking.slot_id])
    slot = bookable_slot(booking.slot.item_id, slot_id, address, now)
    if not _take_place(slot_id):
        raise SlotUnavailable()
    _give_place_back(booking.slot_id)
    old = booking.slot
    booking.slot_id, booking.status = slot_id, "rescheduled"
    booking.address = address.strip()[:200] if slot.at_home else ""
    booking.reschedule_count += 1
    booking.updated_at = now
    db.session.flush()
    db.session.expire(booking, ["slot"])
    record(locked_order(order_id), "service_rescheduled", now, actor="member", actor_id=member_id,
           note=f"from {old.starts_at:%Y-%m-%d %H:%M} UTC")
    return booking


def cancel(order_id: int, member_id: int, *, now: datetime, cutoff_hours: int, refund) -> Booking:
    """Cancel a booking up to the cut-off: `refund(order_id)` (checkout's refund, passed in
    by the view) gives the points and stock back, and its "refunded" event frees the
    place (receivers.release_for)."""
    booking = _locked_booking(order_id, member_id)
    if booking.status == "cancelled":
        return booking
    if not can_change(booking, now, cutoff_hours):
        raise BookingLocked(_l("It is too late to cancel: changes close %(n)s hours before the start.",
                               n=cutoff_hours))
    if locked_order(order_id).status != S.READY.value:  # unpaid: the order's own Cancel applies
        raise BookingLocked(_l("This booking can no longer be changed."))
    refund(order_id)
    return booking


def release_for(order: Order, now: datetime) -> None:
    """The order ended without the service (cancelled, expired, refunded...): its booking is
    cancelled and the place goes back to the slot, once."""
    booking = db.session.execute(select(Booking).where(Booking.order_id == order.id).with_for_update()
                                 .execution_options(populate_existing=True)).scalar_one_or_none()
    if booking is None or booking.status not in HOLDING:
        return
    _give_place_back(booking.slot_id)
    booking.status, booking.updated_at = "cancelled", now


def store_bookings(store_ids: list[int], now: datetime, limit: int = 100) -> list[Booking]:
    """Open bookings the stores give within a week (and any still open from before), soonest first."""
    if not store_ids:
        return []
    return list(db.session.scalars(
        select(Booking).join(ServiceSlot).where(ServiceSlot.store_id.in_(store_ids), Booking.status.in_(HOLDING),
                                                ServiceSlot.starts_at < now + timedelta(days=7))
        .order_by(ServiceSlot.starts_at, Booking.id).limit(limit)))


def mark_done(booking_id: int, *, staff_id: int, store_ids: list[int], now: datetime) -> Booking:
    """Staff of the slot's store mark the service given: the booking is done and the order
    fulfilled. A second tap changes nothing; another store's staff are refused."""
    booking = db.session.execute(select(Booking).where(Booking.id == booking_id).with_for_update()
                                 .execution_options(populate_existing=True)).scalar_one_or_none()
    if booking is None or booking.slot.store_id not in store_ids:
        raise NotFound()
    if booking.status == "done":
        return booking
    if booking.status not in HOLDING:
        raise BookingLocked(_l("This booking was cancelled."))
    order = locked_order(booking.order_id)
    if order.status != S.READY.value:
        raise BookingLocked(_l("This order is not paid yet."))
    booking.status, booking.done_by_id, booking.updated_at = "done", staff_id, now
    order.status = S.FULFILLED.value
    record(order, "service_done", now, actor="staff", actor_id=staff_id)
    return booking
