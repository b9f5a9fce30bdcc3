"""Pickup codes at the counter: one redemption, at an allowed store, and a clear refusal for
a replayed, expired, forged, tampered or wrong-store code (DESIGN.md #5)."""
import re

import pytest
from sqlalchemy import func, select

from mall.checkout.models import Order
from mall.extensions import db
from mall.instore import pickups
from mall.instore.codes import parse_pickup_code, pickup_code
from mall.instore.errors import (AlreadyPickedUp, CashMethodNeeded, InvalidCode, MemberFrozen,
                                 NotReadyForPickup, NotYourStore, PickupExpired, WrongStore)
from mall.instore.models import ItemPickupStore, Pickup
from tests.factories import PASSWORD, make_item
from tests.instore_world import make_world, ready_order


@pytest.fixture
def world(app, clock):
    return make_world(clock.now())


def _hand_over(world, clock, code=None, store_id=None, **kw):
    return pickups.hand_over(world.code if code is None else code, store_id=store_id or world.store_id, now=clock.now(),
                             pickup_days=14, staff_id=world.staff_id, **kw)


def _login(client, login):
    assert client.post("/login", data={"identifier": login, "password": PASSWORD}).status_code == 302


def _pickups() -> int:
    return db.session.scalar(select(func.count()).select_from(Pickup))


# --- the code itself ------------------------------------------------------------------------

def test_short_code_and_qr_payload_both_name_the_order(world):
    order = db.session.get(Order, world.order_id)
    code = pickup_code(order.id, order.number)
    assert re.fullmatch(r"[0-9A-Z]+-[0-9A-Z]{6}", code.short)
    assert code.qr_text.startswith("PM1:")
    assert parse_pickup_code(code.short).order_id == order.id
    assert parse_pickup_code(code.qr_text).order_id == order.id
    # typed in lower case, with spaces and an O for a zero, it still reads
    assert parse_pickup_code(" " + code.short.lower().replace("0", "o") + " ").order_id == order.id


def test_a_code_for_one_order_does_not_open_another(world, clock):
    other = ready_order(world.member_id, make_item(clock.now(), points=100), clock.now(), key="second")
    db.session.commit()
    assert pickup_code(other.id, other.number).short != world.code


# --- hand-over ----------------------------------------------------------------------------------

def test_hand_over_redeems_once_and_a_replay_says_where_when_and_by_whom(world, clock):
    pickup = _hand_over(world, clock)
    db.session.commit()
    assert db.session.get(Order, world.order_id).status == "picked_up"
    assert pickup.store_id == world.store_id and pickup.staff_id == world.staff_id
    clock.advance(minutes=5)
    with pytest.raises(AlreadyPickedUp) as refused:
        _hand_over(world, clock)
    assert "Store 1, Jing'an" in str(refused.value.message)
    assert "Counter Chen" in str(refused.value.message)
    assert refused.value.at == pickup.picked_up_at
    assert _pickups() == 1
    events = [e.kind for e in db.session.get(Order, world.order_id).events]
    assert events.count("picked_up") == 1


def test_the_qr_payload_redeems_like_the_short_code(world, clock):
    _hand_over(world, clock, code=world.qr_text)
    db.session.commit()
    with pytest.raises(AlreadyPickedUp):
        _hand_over(world, clock)


def test_a_forged_code_is_refused(world, clock):
    order_part = world.code.split("-")[0]
    for forged in (f"{order_part}-ZZZZZZ", "PM1:" + order_part + ":" + "A" * 26, "hello", "", "1-", "PM1::x"):
        with pytest.raises(InvalidCode):
            _hand_over(world, clock, code=forged)
    assert _pickups() == 0


def test_a_code_tampered_to_name_another_order_is_refused(world, clock):
    other = ready_order(world.member_id, make_item(clock.now(), points=100), clock.now(), key="second")
    db.session.commit()
    order_part, mac = world.code.split("-")
    other_part = pickup_code(other.id, other.number).short.split("-")[0]
    with pytest.raises(InvalidCode):
        _hand_over(world, clock, code=f"{other_part}-{mac}")
    assert db.session.get(Order, other.id).status == "ready"


def test_an_expired_code_is_refused_with_its_date(world, clock):
    clock.advance(days=14, seconds=1)
    with pytest.raises(PickupExpired) as refused:
        _hand_over(world, clock)
    assert "expired on" in str(refused.value.message)
    assert _pickups() == 0


def test_a_store_that_does_not_carry_the_item_refuses_and_names_the_right_one(world, clock):
    db.session.add(ItemPickupStore(item_id=world.item_id, store_id=world.other_store_id))
    db.session.commit()
    with pytest.raises(WrongStore) as refused:
        _hand_over(world, clock)
    assert "Store 2, Pudong" in str(refused.value.message)
    assert _pickups() == 0


def test_staff_act_only_for_their_own_store(world, clock):
    with pytest.raises(NotYourStore):
        pickups.check_staff_store(world.staff_id, world.other_store_id)
    assert pickups.check_staff_store(world.staff_id, world.store_id).id == world.store_id


def test_an_unpaid_order_is_not_ready(world, clock):
    from mall.checkout.orders import place_order
    from mall.checkout.quotes import LineRequest
    item = make_item(clock.now(), points=100, plans=[("points_cash", 50, 500, None)])
    order = place_order(world.member_id, [LineRequest(item.id, item.plans[1].id, 1)], key="unpaid", now=clock.now(),
                        hold_minutes=10, card_payments=False, points_per_unit=100)
    db.session.commit()
    with pytest.raises(NotReadyForPickup):
        _hand_over(world, clock, code=pickup_code(order.id, order.number).short)


def test_cash_due_at_the_counter_needs_its_method_and_is_recorded(world, clock):
    from mall.catalog.models import Item
    item = db.session.get(Item, world.item_id)
    order = ready_order(world.member_id, item, clock.now(), key="cash", plan=item.plans[1])
    db.session.commit()
    code = pickup_code(order.id, order.number).short
    assert pickups.find_for_counter(code, store_id=world.store_id, now=clock.now(), pickup_days=14).cash_due_minor == 990
    with pytest.raises(CashMethodNeeded):
        _hand_over(world, clock, code=code)
    pickup = _hand_over(world, clock, code=code, cash_method="wechat")
    db.session.commit()
    order = db.session.get(Order, order.id)
    assert (pickup.cash_minor, pickup.cash_method) == (990, "wechat")
    assert order.cash_collected_minor == 990 and order.cash_due_at_counter == 0


def test_a_frozen_members_order_is_not_handed_over(world, clock):
    from mall.accounts.services import freeze
    freeze(world.member_id, "under review", now=clock.now())
    db.session.commit()
    with pytest.raises(MemberFrozen):
        _hand_over(world, clock)


# --- pages ----------------------------------------------------------------------------------

def test_member_page_shows_the_qr_code_the_short_code_where_and_until_when(client, world):
    _login(client, "member@example.com")
    html = client.get(f"/orders/{world.order_id}").get_data(as_text=True)
    assert "<svg" in html and 'class="qr"' in html
    assert world.code in html
    assert "Store 1, Jing&#39;an" in html and "Store 2, Pudong" in html
    assert "Until " in html
    assert 'hx-trigger="every 3s"' in html and 'hx-select-oob="#order-status,#order-timeline"' in html


def test_the_polled_status_turns_to_picked_up_with_the_status_line(client, world, clock):
    _login(client, "member@example.com")
    before = client.get(f"/orders/{world.order_id}/pickup-status", headers={"HX-Request": "true"})
    assert before.status_code == 200 and "Ready for pickup" in before.get_data(as_text=True)
    _hand_over(world, clock)
    db.session.commit()
    after = client.get(f"/orders/{world.order_id}/pickup-status", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'id="order-status"' in after and "Picked up" in after
    assert "Picked up at Store 1, Jing&#39;an" in after and "by Counter Chen" in after
    assert "every 3s" not in after  # stops polling once handed over
    timeline = after[after.index('id="order-timeline"'):]
    assert "Picked up" in timeline  # the timeline updates in place too, no reload


def test_another_member_cannot_poll_someone_elses_order(client, world, clock):
    from tests.factories import make_user
    make_user(clock.now(), login="other@example.com")
    db.session.commit()
    _login(client, "other@example.com")
    assert client.get(f"/orders/{world.order_id}/pickup-status").status_code == 404


def test_counter_looks_up_then_hands_over_in_one_tap_and_a_second_scan_is_refused(client, world):
    _login(client, "staff@example.com")
    found = client.get(f"/counter/pickup?code={world.code}&store={world.store_id}", headers={"HX-Request": "true"})
    html = found.get_data(as_text=True)
    assert found.status_code == 200 and "Hand over" in html and "L****" in html
    done = client.post("/counter/pickup", data={"code": world.code, "store": world.store_id},
                       headers={"HX-Request": "true"})
    assert done.status_code == 200 and "Handed over" in done.get_data(as_text=True)
    again = client.get(f"/counter/pickup?code={world.code}&store={world.store_id}", headers={"HX-Request": "true"})
    assert again.status_code == 409
    assert re.search(r"Already picked up at Store 1, Jing&#39;an, .+, by Counter Chen\.", again.get_data(as_text=True))


def test_counter_shows_a_mistyped_code_next_to_the_field(client, world):
    _login(client, "staff@example.com")
    response = client.get(f"/counter/pickup?code=NOPE-123456&store={world.store_id}")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="pickup-code-error"' in html and "This code is not valid" in html


def test_counter_without_a_store_says_so(client, app, clock):
    from tests.factories import make_tiers, make_user
    make_tiers()
    make_user(clock.now(), role="store_staff", login="lonely@example.com")
    db.session.commit()
    _login(client, "lonely@example.com")
    html = client.get("/counter").get_data(as_text=True)
    assert "not assigned to a store" in html


def test_staff_cannot_hand_over_for_a_store_they_are_not_bound_to(client, world):
    _login(client, "staff@example.com")
    response = client.post("/counter/pickup", data={"code": world.code, "store": world.other_store_id})
    assert response.status_code == 422 and _pickups() == 0


def test_code_entry_is_rate_limited(app, client, world):
    app.config["MALL_CODE_ENTRY_RATE_LIMIT"] = "3 per minute"
    _login(client, "staff@example.com")
    responses = [client.get(f"/counter/pickup?code=XX-{i:06d}&store={world.store_id}",
                            headers={"HX-Request": "true"}) for i in range(5)]
    assert [r.status_code for r in responses] == [422, 422, 422, 429, 429]
    limited = responses[-1].get_data(as_text=True)
    assert 'id="pickup-code-error"' in limited and "Too many tries" in limited  # next to the field
    assert client.post("/counter/pickup", data={"code": world.code, "store": world.store_id}).status_code == 429
    assert _pickups() == 0


@pytest.mark.parametrize("role,login", [("anonymous", None), ("member", "member@example.com"),
                                        ("hq", "hq@example.com")])
def test_counter_actions_are_for_store_staff_only(client, world, role, login):
    if login:
        _login(client, login)
    lookup = client.get(f"/counter/pickup?code={world.code}&store={world.store_id}")
    hand = client.post("/counter/pickup", data={"code": world.code, "store": world.store_id})
    receipt = client.post("/counter/purchases", data={"store": world.store_id, "receipt_no": "X", "amount": "1"})
    for response in (lookup, hand, receipt):
        if role == "anonymous":
            assert response.status_code == 302 and "/login" in response.headers["Location"]
        else:
            assert response.status_code == 403
    assert _pickups() == 0


def test_receipt_urls_and_pickup_status_are_for_members_only(client, world):
    _login(client, "staff@example.com")
    assert client.get(f"/orders/{world.order_id}/pickup-status").status_code == 403
    assert client.get("/r/anything").status_code == 403
