"""Set-up shared by the reward-kind tests: a store with bound staff, a home service with
slots, a right item, and a member with points."""
from dataclasses import dataclass
from datetime import timedelta

from mall.bookings import services as bookings
from mall.checkout.orders import place_order
from mall.checkout.quotes import LineRequest
from mall.extensions import db
from mall.instore.models import StoreStaff
from mall.rights.services import save_spec
from tests.factories import give_points, make_item, make_user
from tests.instore_world import make_store

ARGS = dict(hold_minutes=10, card_payments=False, points_per_unit=100)


@dataclass
class KindsWorld:
    store_id: int
    other_store_id: int
    staff_id: int
    member_id: int
    service: object
    slots: list
    right: object


def make_kinds_world(now, *, capacity=2, member_login="kinds-member@example.com") -> KindsWorld:
    store, other = make_store("K-001", "Kinds store"), make_store("K-002", "Other store")
    staff = make_user(now, role="store_staff", login="kinds-staff@example.com")
    db.session.add(StoreStaff(user_id=staff.id, store_id=store.id))
    member = make_user(now, login=member_login)
    give_points(member.id, 50000, now)
    service = make_item(now, name="Home cleaning, 2 h", points=800, stock=0, kind="service")
    slots = bookings.add_slots(service, starts_at=now + timedelta(days=3), minutes=120, store_id=store.id,
                               at_home=True, capacity=capacity, repeat_days=3, now=now)
    right = make_item(now, name="Priority purchase, 90 days", points=500, stock=10, kind="right")
    save_spec(right.id, "priority_purchase", 90)
    db.session.commit()
    return KindsWorld(store.id, other.id, staff.id, member.id, service, slots, right)


def book_service(world, slot, now, *, member_id=None, key="svc"):
    """A points-only service order booked into `slot` (the checkout's path, without a page)."""
    member_id = member_id or world.member_id
    return place_order(member_id, [LineRequest(world.service.id, world.service.plans[0].id, 1)], key=key, now=now,
                       book=lambda order, when: bookings.book(order, slot_id=slot.id, address="1 Home Road",
                                                              now=when), **ARGS)
