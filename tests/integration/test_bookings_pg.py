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
