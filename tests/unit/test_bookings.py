"""Service bookings through the pages, on SQLite: a slot picked at checkout, rescheduled
once up to the cut-off, cancelled (the place goes back), marked done by the slot's store,
and slots added in the console. The capacity race is in tests/integration/test_bookings_pg.py."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from mall.bookings.models import Booking, ServiceSlot
from mall.checkout.models import Order
from mall.extensions import db
from mall.inventory.models import StockLevel
from mall.points.statement import balance
from tests.factories import PASSWORD, make_category, make_user
from tests.kinds_world import book_service, make_kinds_world


@pytest.fixture
def world(tiers, clock):
    return make_kinds_world(clock.now())


def _login(client, login="kinds-member@example.com"):
    assert client.post("/login", data={"identifier": login, "password": PASSWORD}).status_code == 302


def _slot(slot_id) -> ServiceSlot:
    db.session.expire_all()
    return db.session.get(ServiceSlot, slot_id)


def _booking() -> Booking:
    db.session.expire_all()
    return db.session.scalar(select(Booking))


def test_a_member_picks_a_slot_at_checkout_and_sees_the_booking_on_the_order_page(world, client, clock):
    _login(client)
    page = client.get(f"/catalog/{world.service.id}").get_data(as_text=True)
    assert 'name="slot_id"' in page and "At your home" in page and 'name="address"' in page
    data = {"plan_id": world.service.plans[0].id, "quantity": 1, "key": "s1", "slot_id": world.slots[0].id}
    refused = client.post(f"/catalog/{world.service.id}/buy", data=data)  # at home: the address is needed
    assert refused.status_code == 422 and db.session.scalar(select(func.count()).select_from(Order)) == 0
    response = client.post(f"/catalog/{world.service.id}/buy", data={**data, "address": "8 Garden Lane"})
    assert response.status_code == 302
    order = db.session.scalar(select(Order))
    booking = _booking()
    assert (order.status, order.kind, booking.status, booking.address) == ("ready", "service", "booked", "8 Garden Lane")
    assert _slot(world.slots[0].id).booked == 1
    stock = db.session.get(StockLevel, world.service.id)
    assert (stock.received, stock.sold) == (6, 1)  # 3 slots x 2 places received; one sold
    page = client.get(f"/orders/{order.id}").get_data(as_text=True)
    assert "Your booking" in page and "8 Garden Lane" in page and "Booked" in page
    assert "Your pickup code" not in page


def test_a_full_slot_is_refused_at_checkout_and_nothing_is_written(world, client, clock):
    book_service(world, world.slots[0], clock.now(), key="a")
    other = make_user(clock.now(), login="second@example.com")
    from tests.factories import give_points
    give_points(other.id, 5000, clock.now())
    book_service(world, world.slots[0], clock.now(), member_id=other.id, key="b")
    db.session.commit()
    _login(client)
    response = client.post(f"/catalog/{world.service.id}/buy", data={
        "plan_id": world.service.plans[0].id, "quantity": 1, "key": "late", "slot_id": world.slots[0].id,
        "address": "x"})
    assert response.status_code == 422
    assert "no longer available" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Order)) == 2 and _slot(world.slots[0].id).booked == 2


def test_a_booking_is_rescheduled_once_then_refused(world, client, clock):
    order = book_service(world, world.slots[0], clock.now())
    db.session.commit()
    _login(client)
    assert "Move to another time (once)" in client.get(f"/orders/{order.id}").get_data(as_text=True)
    response = client.post(f"/orders/{order.id}/booking/reschedule", data={"slot_id": world.slots[1].id})
    assert response.status_code == 302
    booking = _booking()
    assert (booking.slot_id, booking.status, booking.reschedule_count) == (world.slots[1].id, "rescheduled", 1)
    assert (_slot(world.slots[0].id).booked, _slot(world.slots[1].id).booked) == (0, 1)
    client.post(f"/orders/{order.id}/booking/reschedule", data={"slot_id": world.slots[2].id})
    booking = _booking()
    assert booking.slot_id == world.slots[1].id and _slot(world.slots[2].id).booked == 0
    page = client.get(f"/orders/{order.id}").get_data(as_text=True)
    assert "already moved once" in page and "Move to another time" not in page


def test_a_store_booking_moved_to_a_home_visit_needs_the_address_and_keeps_it(world, client, clock):
    from mall.bookings.services import add_slots
    store_slot = add_slots(world.service, starts_at=clock.now() + timedelta(days=3, hours=6), minutes=60,
                           store_id=world.store_id, at_home=False, capacity=2, repeat_days=1, now=clock.now())[0]
    order = book_service(world, store_slot, clock.now())
    db.session.commit()
    assert _booking().address == ""  # a store visit keeps no address
    _login(client)
    page = client.get(f"/orders/{order.id}").get_data(as_text=True)
    assert 'id="reschedule-address"' in page and "Needed for a visit at your home." in page
    for data in ({"slot_id": world.slots[1].id}, {"slot_id": world.slots[1].id, "address": "  "}):
        response = client.post(f"/orders/{order.id}/booking/reschedule", data=data, follow_redirects=True)
        assert "Enter the address where the service takes place." in response.get_data(as_text=True)
        booking = _booking()
        assert (booking.slot_id, booking.status, booking.reschedule_count, booking.address) == \
            (store_slot.id, "booked", 0, "")
        assert (_slot(store_slot.id).booked, _slot(world.slots[1].id).booked) == (1, 0)
    response = client.post(f"/orders/{order.id}/booking/reschedule",
                           data={"slot_id": world.slots[1].id, "address": "5 River Road"})
    assert response.status_code == 302
    booking = _booking()
    assert (booking.slot_id, booking.status, booking.address) == (world.slots[1].id, "rescheduled", "5 River Road")
    assert (_slot(store_slot.id).booked, _slot(world.slots[1].id).booked) == (0, 1)
    assert "At your home: 5 River Road" in client.get(f"/orders/{order.id}").get_data(as_text=True)


def test_a_home_visit_moved_to_another_home_slot_keeps_its_address_prefilled(world, client, clock):
    order = book_service(world, world.slots[0], clock.now())
    db.session.commit()
    _login(client)
    page = client.get(f"/orders/{order.id}").get_data(as_text=True)
    assert 'value="1 Home Road"' in page
    client.post(f"/orders/{order.id}/booking/reschedule", data={"slot_id": world.slots[1].id, "address": "1 Home Road"})
    assert (_booking().slot_id, _booking().address) == (world.slots[1].id, "1 Home Road")


def test_a_reschedule_after_the_cut_off_is_refused(world, client, clock):
    order = book_service(world, world.slots[0], clock.now())
    db.session.commit()
    clock.advance(hours=3 * 24 - 23)  # 23 hours before the start: inside the 24-hour cut-off
    _login(client)
    response = client.post(f"/orders/{order.id}/booking/reschedule", data={"slot_id": world.slots[1].id},
                           follow_redirects=True)
    assert "too late to reschedule" in response.get_data(as_text=True)
    assert _booking().slot_id == world.slots[0].id and _slot(world.slots[1].id).booked == 0


def test_cancelling_a_booking_gives_the_place_back_and_the_points(world, client, clock):
    before = balance(world.member_id, clock.now()).points
    order = book_service(world, world.slots[0], clock.now())
    db.session.commit()
    _login(client)
    response = client.post(f"/orders/{order.id}/booking/cancel")
    assert response.status_code == 302
    db.session.expire_all()
    assert _booking().status == "cancelled" and _slot(world.slots[0].id).booked == 0
    assert db.session.get(Order, order.id).status == "refunded"
    assert balance(world.member_id, clock.now()).points == before
    assert db.session.get(StockLevel, world.service.id).sold == 0


def test_staff_of_the_slots_store_mark_the_booking_done(world, client, clock):
    order = book_service(world, world.slots[0], clock.now())
    outsider = make_user(clock.now(), role="store_staff", login="outsider@example.com")  # bound to no store
    db.session.commit()
    booking_id = _booking().id
    _login(client, "outsider@example.com")
    assert client.post(f"/counter/bookings/{booking_id}/done").status_code == 404
    assert _booking().status == "booked" and outsider.id
    client.post("/logout")
    _login(client, "kinds-staff@example.com")
    page = client.get("/counter/bookings").get_data(as_text=True)
    assert "Home cleaning, 2 h" in page and "Mark done" in page
    assert client.post(f"/counter/bookings/{booking_id}/done").status_code == 302
    booking = _booking()
    assert (booking.status, booking.done_by_id) == ("done", world.staff_id)
    assert db.session.get(Order, order.id).status == "fulfilled"
    assert client.post(f"/counter/bookings/{booking_id}/done").status_code == 302  # a second tap: no change
    from mall.audit import run_audit
    assert [f.check for f in run_audit() if f.violations] == []  # a done booking keeps its place


def test_a_merchandiser_adds_slots_repeated_over_days_and_their_places_become_stock(world, client, clock):
    make_user(clock.now(), role="merchandiser", login="slots-merch@example.com")
    make_category("home", "Home")
    db.session.commit()
    _login(client, "slots-merch@example.com")
    local = clock.now() + timedelta(hours=8, days=10)  # the console reads shop-local time
    form = {"starts_at": local.strftime("%Y-%m-%dT10:00"), "minutes": "90", "store_id": world.store_id,
            "capacity": "3", "repeat_days": "4"}
    response = client.post(f"/console/items/{world.service.id}/slots", data=form)
    assert response.status_code == 302
    added = db.session.scalars(select(ServiceSlot).where(ServiceSlot.starts_at > clock.now() + timedelta(days=9))
                               .order_by(ServiceSlot.starts_at)).all()
    assert [s.capacity for s in added] == [3, 3, 3, 3]
    assert added[1].starts_at - added[0].starts_at == timedelta(days=1)
    assert added[0].ends_at - added[0].starts_at == timedelta(minutes=90)
    assert db.session.get(StockLevel, world.service.id).received == 6 + 12
    refused = client.post(f"/console/items/{world.service.id}/slots", data={**form, "capacity": "0"})
    assert refused.status_code == 422


def test_mall_audit_checks_each_slots_count_against_its_bookings(world, clock):
    from sqlalchemy import update

    from mall.audit import run_audit

    def failing():
        return [f.check for f in run_audit() if f.violations]
    order = book_service(world, world.slots[0], clock.now())
    from mall.bookings.services import reschedule
    reschedule(order.id, world.member_id, world.slots[1].id, now=clock.now(), cutoff_hours=24)
    db.session.flush()
    assert failing() == []
    db.session.execute(update(ServiceSlot).where(ServiceSlot.id == world.slots[2].id).values(booked=1))
    assert failing() == ["each slot's booked count equals its bookings that took a place, within its capacity"]
