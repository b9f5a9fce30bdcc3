"""Service slots on real PostgreSQL (and Redis admission when configured): a slot's capacity
holds under concurrent bookings, and a lost race writes nothing."""
from sqlalchemy import func, select

from mall.audit import run_audit
from mall.bookings.models import Booking, ServiceSlot
from mall.bookings.services import SlotUnavailable
from mall.checkout.models import Order
from mall.extensions import db
from mall.inventory.models import StockLevel
from mall.inventory.reservations import OutOfStock
from tests.concurrency import race
from tests.factories import give_points, make_tiers, make_user
from tests.kinds_world import book_service, make_kinds_world


def test_a_slot_with_capacity_two_takes_exactly_two_of_ten_concurrent_bookings(pg_app, clock):
    make_tiers()
    world = make_kinds_world(clock.now(), capacity=2)
    members = [make_user(clock.now()) for _ in range(10)]
    for m in members:
        give_points(m.id, 5000, clock.now())
    db.session.commit()
    ids, slot = [m.id for m in members], world.slots[0]

    outcomes = race(pg_app, 10, lambda i: book_service(world, slot, clock.now(), member_id=ids[i], key=f"b{i}"),
                    refusals=(SlotUnavailable, OutOfStock), returns=True)

    db.session.expire_all()
    assert sum(1 for o in outcomes if isinstance(o, Order)) == 2, outcomes
    # The losers are refused by the slot's conditional UPDATE, or earlier by Redis admission
    # (the service's stock is its three slots' six places, so admission lets six through).
    assert outcomes.count("SlotUnavailable") + outcomes.count("OutOfStock") == 8
    assert outcomes.count("SlotUnavailable") >= 4
    assert db.session.get(ServiceSlot, slot.id).booked == 2
    assert db.session.scalar(select(func.count()).select_from(Booking)) == 2
    assert db.session.scalar(select(func.count()).select_from(Order)) == 2  # the losers wrote nothing
    assert db.session.get(StockLevel, world.service.id).sold == 2
    assert [f.check for f in run_audit() if f.violations] == []


def test_crossed_reschedules_between_two_slots_neither_deadlock_nor_break_capacity(pg_app, clock, monkeypatch):
    """Pairs of members swap slots at once (one moves A to B while the other moves B to A):
    the slots' rows are locked in id order, so every move goes through, none fails on a
    deadlock, and each slot ends with exactly the bookings it holds."""
    import threading
    from datetime import timedelta

    from mall.bookings import services
    from mall.bookings.services import add_slots, reschedule
    # The worst interleaving, every time: each move waits (up to 2 s) after taking its new
    # place until its crossing partner has taken its own, before giving the old place back.
    # Locked in id order, the partner is still waiting for the lock, and the wait times out.
    take_place, partners = services._take_place, {}

    def take_place_then_wait(slot_id):
        taken = take_place(slot_id)
        if slot_id in partners:  # set once the bookings are made
            try:
                partners[slot_id].wait(2)
            except threading.BrokenBarrierError:
                pass
        return taken
    monkeypatch.setattr(services, "_take_place", take_place_then_wait)
    make_tiers()
    world = make_kinds_world(clock.now(), capacity=2)
    pairs = 3
    slots = add_slots(world.service, starts_at=clock.now() + timedelta(days=5), minutes=60, store_id=world.store_id,
                      at_home=True, capacity=2, repeat_days=2 * pairs, now=clock.now())
    members = [make_user(clock.now()) for _ in range(2 * pairs)]
    orders = []
    for i, m in enumerate(members):
        give_points(m.id, 5000, clock.now())
        orders.append(book_service(world, slots[i], clock.now(), member_id=m.id, key=f"s{i}"))
    db.session.commit()
    # Member 2k moves from slot 2k to 2k+1, member 2k+1 the other way, all released together.
    targets = [slots[i + 1 if i % 2 == 0 else i - 1].id for i in range(2 * pairs)]
    for k in range(pairs):
        partners[slots[2 * k].id] = partners[slots[2 * k + 1].id] = threading.Barrier(2)
    order_ids, member_ids = [o.id for o in orders], [m.id for m in members]

    outcomes = race(pg_app, 2 * pairs, lambda i: reschedule(order_ids[i], member_ids[i], targets[i], now=clock.now(),
                                                            cutoff_hours=24), refusals=(SlotUnavailable,))

    db.session.expire_all()
    assert outcomes == ["ok"] * (2 * pairs), outcomes
    for i, order_id in enumerate(order_ids):
        booking = db.session.scalar(select(Booking).where(Booking.order_id == order_id))
        assert (booking.slot_id, booking.status, booking.address) == (targets[i], "rescheduled", "1 Home Road")
    assert [db.session.get(ServiceSlot, s.id).booked for s in slots] == [1] * (2 * pairs)
    assert [f.check for f in run_audit() if f.violations] == []
