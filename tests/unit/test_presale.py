"""Presale through the pages (fast suite, SQLite): the console form refuses bad values next
to the field, receipts serve pre-orders (console and CSV), members answer offers, and
`mall audit` notices an unfair or unsettled presale. Concurrency is in
tests/integration/test_presale_pg.py."""
import io
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from mall.catalog.models import ItemChange
from mall.catalog.substitutes import set_substitutes
from mall.checkout.models import Order
from mall.checkout.quotes import LineRequest
from mall.extensions import db
from mall.inventory.models import StockLevel
from mall.audit import run_audit
from mall.points.models import PointsAccount
from mall.presale import services as presale
from mall.presale.models import Presale
from tests.factories import PASSWORD, give_points, make_category, make_item, make_user


def _failed_checks():
    return [f.check for f in run_audit() if f.violations]


@pytest.fixture
def merch(tiers, clock, client):
    user = make_user(clock.now(), role="merchandiser", login="pre-merch@example.com")
    make_category("home", "Home")
    db.session.commit()
    client.post("/login", data={"identifier": "pre-merch@example.com", "password": PASSWORD})
    return user


def _window(clock, **changes):
    # The console shows and reads local time (Asia/Shanghai, UTC+8).
    local = clock.now() + timedelta(hours=8)
    form = {"opens_at": (local - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
            "closes_at": (local + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M"),
            "cap": "3", "ships_on": local.date().isoformat(), "offer_hours": "48"}
    form.update(changes)
    return form


def test_a_merchandiser_opens_a_presale_and_it_is_recorded_in_the_item_history(client, merch, clock):
    item = make_item(clock.now(), stock=0)
    db.session.commit()
    response = client.post(f"/console/items/{item.id}/presale", data=_window(clock))
    assert response.status_code == 302
    sale = presale.presale_for(item.id)
    assert (sale.cap, sale.taken, sale.offer_hours) == (3, 0, 48)
    assert sale.opens_at == clock.now() - timedelta(hours=1)  # local time in, UTC stored
    client.post(f"/console/items/{item.id}/presale", data=_window(clock, cap="5"))
    changes = db.session.scalars(select(ItemChange).where(ItemChange.item_id == item.id,
                                                          ItemChange.action == "presale")
                                 .order_by(ItemChange.id)).all()
    assert len(changes) == 2 and changes[-1].before == {"presale_cap": 3} and changes[-1].after == {"presale_cap": 5}
    assert changes[-1].actor_id == merch.id
    history = client.get(f"/console/items/{item.id}/history").get_data(as_text=True)
    assert "Presale set up or changed" in history and "Test Member" in history


@pytest.mark.parametrize("change,field,message", [
    ({"cap": "0"}, "cap", "The cap must be a whole number above zero."),
    ({"cap": "-4"}, "cap", "The cap must be a whole number above zero."),
    ({"closes_at": "2026-05-01T10:00"}, "closes_at", "The window must end after it starts."),
    ({"ships_on": "2026-05-01"}, "ships_on", "The ship date can&#39;t be before pre-orders open."),
    ({"offer_hours": "0"}, "offer_hours", "Between 1 and 720 hours."),
    ({"cap": ""}, "cap", "Enter the cap."),
])
def test_bad_presale_input_is_refused_next_to_the_field_and_changes_nothing(client, merch, clock, change, field,
                                                                            message):
    item = make_item(clock.now(), stock=0)
    db.session.commit()
    response = client.post(f"/console/items/{item.id}/presale", data=_window(clock, **change))
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'<p class="error" id="{field}-error">{message}</p>' in page
    assert db.session.scalar(select(func.count()).select_from(Presale)) == 0
    assert db.session.scalar(select(func.count()).select_from(ItemChange).where(ItemChange.action == "presale")) == 0


def _preorders(clock, item, sale, n, points=5000):
    members = []
    for i in range(n):
        member = make_user(clock.now())
        give_points(member.id, points, clock.now())
        presale.preorder(member.id, sale.id, LineRequest(item.id, item.plans[0].id, 1), key=f"pre{i}",
                         now=clock.now(), points_per_unit=100)
        members.append(member)
    db.session.commit()
    return members


def _open_presale(clock, *, cap=3, points=1000, ships_in_days=0):
    item = make_item(clock.now(), name="Console", points=points, stock=0)
    sale = presale.save_presale(item.id, opens_at=clock.now() - timedelta(hours=1),
                                closes_at=clock.now() + timedelta(days=7), cap=cap,
                                ships_on=(clock.now() + timedelta(days=ships_in_days)).date(), offer_hours=48,
                                now=clock.now())
    return item, sale


def test_a_cap_below_the_places_taken_is_refused_in_the_console(client, merch, clock):
    item, sale = _open_presale(clock)
    _preorders(clock, item, sale, 2)
    response = client.post(f"/console/items/{item.id}/presale", data=_window(clock, cap="1"))
    assert response.status_code == 422
    assert "2 places are already taken; the cap can&#39;t go below that." in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Presale, sale.id).cap == 3
    queue = client.get(f"/console/items/{item.id}/presale").get_data(as_text=True)
    assert "2 of 3 places taken." in queue and queue.count("Pre-ordered") == 2


def test_receiving_goods_in_the_console_serves_the_queue_first_come_first_served(client, merch, clock):
    item, sale = _open_presale(clock, ships_in_days=5)
    first, second = _preorders(clock, item, sale, 2)
    response = client.post(f"/console/items/{item.id}/stock", follow_redirects=True,
                           data={"action": "receive", "receive-quantity": "1", "receive-reference": "PO-9"})
    assert "Pre-orders: 1 served, 0 offered a substitute, 0 refunded." in response.get_data(as_text=True)
    statuses = {o.member_id: o.status for o in presale.queue(sale.id)}
    assert statuses == {first.id: "ready", second.id: "preordered"}  # before the ship date: still waiting
    assert _failed_checks() == []


def test_a_csv_receipt_for_a_presale_item_serves_its_pre_orders(client, merch, clock):
    item, sale = _open_presale(clock)
    _preorders(clock, item, sale, 2)
    text = ("sku,name,name_zh,category,min_tier,points_price,per_member_limit,published,receive\n"
            f"{item.sku},{item.name},,home,,1000,,yes,2\n")
    response = client.post("/console/import", data={"file": (io.BytesIO(text.encode()), "stock.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 200
    assert [o.status for o in presale.queue(sale.id)] == ["ready", "ready"]
    db.session.expire_all()
    level = db.session.get(StockLevel, item.id)
    assert (level.received, level.sold) == (2, 2)
    assert _failed_checks() == []


def _login(client, member):
    client.post("/logout")
    client.post("/login", data={"identifier": member.email, "password": PASSWORD})


def test_members_pre_order_see_the_queue_and_answer_a_shortfall_offer(client, tiers, clock):
    item, sale = _open_presale(clock, cap=2)
    cheap = make_item(clock.now(), name="Handheld", points=600, stock=2)
    dear = make_item(clock.now(), name="Console Pro", points=1400, stock=2)
    set_substitutes(item.id, [cheap.id, dear.id], actor_id=None, now=clock.now())
    members = [make_user(clock.now(), login=f"fan{i}@example.com") for i in range(3)]
    for m in members:
        give_points(m.id, 5000, clock.now())
    db.session.commit()
    orders = []
    for n, m in enumerate(members):
        _login(client, m)
        page = client.get(f"/catalog/{item.id}").get_data(as_text=True)
        assert "Pre-order now" in page or n == 2
        response = client.post(f"/catalog/{item.id}/preorder",
                               data={"plan_id": item.plans[0].id, "quantity": 1, "key": f"web{n}"})
        if n < 2:
            assert response.status_code == 302
            orders.append(db.session.scalar(select(Order).where(Order.member_id == m.id)))
        else:
            assert "All pre-order places are taken." in client.get(f"/catalog/{item.id}").get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Order)) == 2
    _login(client, members[1])
    assert "You are number 2 in the queue." in client.get(f"/orders/{orders[1].id}").get_data(as_text=True)

    from mall.inventory.services import receive_stock
    receive_stock(item.id, 1, reference="PO-1", reason="received", now=clock.now())
    presale.allocate(sale.id, clock.now())
    db.session.commit()
    page = client.get(f"/orders/{orders[1].id}").get_data(as_text=True)
    assert "Not enough stock arrived for your pre-order." in page
    assert "400 points back" in page and "400 more points" in page
    # the dearer one asks for a clear confirmation first and takes nothing until then
    confirm = client.post(f"/orders/{orders[1].id}/offer", data={"substitute_id": dear.id})
    assert "This substitute costs 400 more points than your pre-order." in confirm.get_data(as_text=True)
    assert db.session.get(PointsAccount, members[1].id).balance == 4000
    done = client.post(f"/orders/{orders[1].id}/offer", data={"substitute_id": dear.id, "confirm_top_up": "yes"},
                       follow_redirects=True)
    assert "your points are settled" in done.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(PointsAccount, members[1].id).balance == 3600
    assert db.session.get(Order, orders[1].id).status == "ready"
    assert _failed_checks() == []


def test_the_audit_notices_a_pre_order_served_out_of_turn_and_an_unsettled_substitute(app, tiers, clock):
    item, sale = _open_presale(clock)
    _preorders(clock, item, sale, 2)
    assert _failed_checks() == []
    # hand-edit: the second in the queue marked ready while the first still waits
    db.session.execute(update(Order).where(Order.queue_position == 2).values(status="ready"))
    failed = _failed_checks()
    assert "presale: no pre-order was served ahead of an earlier one still waiting" in failed
    assert "ready and picked-up orders sold exactly the items on their lines, substitutes included" in failed
    db.session.rollback()
    # hand-edit: a substitute recorded at a new price without settling the points
    db.session.execute(update(Order).where(Order.queue_position == 1).values(points_total=600))
    assert ("presale and substitute settlements: each pre-order's points net to its total, refunds to zero"
            in _failed_checks())
    db.session.rollback()


def test_the_audit_notices_stock_counters_that_do_not_match_their_movements(app, tiers, clock):
    item = make_item(clock.now(), stock=5)
    db.session.commit()
    assert _failed_checks() == []
    db.session.execute(update(StockLevel).where(StockLevel.item_id == item.id).values(received=9))
    assert "stock received equals the sum of its receipts and adjustments" in _failed_checks()
    db.session.rollback()


def test_mall_audit_prints_the_presale_checks(app, tiers, clock):
    result = app.test_cli_runner().invoke(args=["mall", "audit"])
    assert result.exit_code == 0
    assert "presale and substitute settlements" in result.output
    assert "stock sold equals the sum of its sales and returns" in result.output


def test_members_are_told_when_their_pre_order_is_ready_offered_or_refunded(client, tiers, clock):
    from mall.notifications.models import Notification
    item, sale = _open_presale(clock, cap=5)
    a, b = make_item(clock.now(), name="Mug", stock=1), make_item(clock.now(), name="Cup", stock=1)
    set_substitutes(item.id, [a.id, b.id], actor_id=None, now=clock.now())
    members = _preorders(clock, item, sale, 3)
    from mall.inventory.services import receive_stock
    receive_stock(item.id, 1, reference="PO-1", reason="received", now=clock.now())
    presale.allocate(sale.id, clock.now())
    presale.allocate(sale.id, clock.now())  # a second run tells nobody twice
    db.session.commit()
    events = {(n.member_id, n.params["event"])
              for n in db.session.scalars(select(Notification).where(Notification.kind == "presale"))}
    assert events == {(members[0].id, "ready"), (members[1].id, "shortfall"), (members[2].id, "shortfall")}
    clock.advance(hours=49)
    assert presale.expire_offers(clock.now()) == 2
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(Notification)
                             .where(Notification.params["event"].as_string() == "refunded")) == 2
    _login(client, members[1])
    inbox = client.get("/notifications").get_data(as_text=True)
    assert "was refunded in full" in inbox and "choose a substitute or a refund" in inbox


def test_a_forged_offer_answer_is_refused_and_changes_nothing(client, tiers, clock):
    item, sale = _open_presale(clock, cap=2)
    set_substitutes(item.id, [make_item(clock.now(), name="Mug").id, make_item(clock.now(), name="Cup").id],
                    actor_id=None, now=clock.now())
    owner, other = _preorders(clock, item, sale, 2)
    presale.allocate(sale.id, clock.now())
    db.session.commit()
    offered = db.session.scalar(select(Order).where(Order.member_id == other.id))
    _login(client, other)
    assert client.post(f"/orders/{offered.id}/offer", data={"substitute_id": "abc"}).status_code == 400
    unknown = client.post(f"/orders/{offered.id}/offer", data={"substitute_id": item.id}, follow_redirects=True)
    assert "That substitute is not available any more" in unknown.get_data(as_text=True)
    _login(client, owner)
    assert client.post(f"/orders/{offered.id}/offer", data={"answer": "refund"}).status_code == 404
    db.session.expire_all()
    assert db.session.get(Order, offered.id).status == "offered"
    assert db.session.get(PointsAccount, other.id).balance == 4000


def _buy(client, item, key, quantity=1):
    return client.post(f"/catalog/{item.id}/buy", data={"plan_id": item.plans[0].id, "quantity": quantity, "key": key})


def _order_count():
    return db.session.scalar(select(func.count()).select_from(Order))


def test_units_waiting_for_the_head_of_the_queue_are_not_sold_to_a_member_without_a_pre_order(client, tiers, clock):
    from mall.inventory.services import receive_stock
    item, sale = _open_presale(clock, cap=5, ships_in_days=10)
    a, b, c = (make_user(clock.now(), login=f"{n}@example.com") for n in ("a", "b", "c"))
    for m in (a, b, c):
        give_points(m.id, 5000, clock.now())
    presale.preorder(a.id, sale.id, LineRequest(item.id, item.plans[0].id, 3), key="a", now=clock.now(),
                     points_per_unit=100)
    presale.preorder(b.id, sale.id, LineRequest(item.id, item.plans[0].id, 1), key="b", now=clock.now(),
                     points_per_unit=100)
    clock.advance(days=8)  # the window has closed; the ship date is two days off
    assert presale.receive_goods(item.id, 2, reference="PO-1", reason="received", now=clock.now()) \
        == {"served": 0, "offered": 0, "refunded": 0}  # A, first, needs 3: nobody behind jumps the queue
    db.session.commit()

    _login(client, c)
    page = client.get(f"/catalog/{item.id}").get_data(as_text=True)
    assert "This item is reserved for pre-orders right now." in page and "Buy now" not in page
    refused = _buy(client, item, "c-buy", quantity=2)
    assert refused.status_code == 422
    assert "This item is reserved for pre-orders right now." in refused.get_data(as_text=True)
    client.post(f"/catalog/{item.id}/cart", data={"plan_id": item.plans[0].id, "quantity": 1, "key": "c-cart"})
    in_cart = client.post("/cart/checkout", data={"key": "c-cart-checkout"})
    assert in_cart.status_code == 422
    assert "This item is reserved for pre-orders right now." in in_cart.get_data(as_text=True)
    db.session.expire_all()
    assert _order_count() == 2  # A's and B's pre-orders, nothing of C's
    assert db.session.get(PointsAccount, c.id).balance == 5000
    level = db.session.get(StockLevel, item.id)
    assert (level.received, level.reserved, level.sold) == (2, 0, 0)

    # Stock put on the shelf another way (an adjustment) waits for the allocation too.
    from mall.inventory.services import adjust_stock
    adjust_stock(item.id, 2, reason="found in the back", now=clock.now())
    db.session.commit()
    assert _buy(client, item, "c-buy-2").status_code == 422
    assert presale.allocate(sale.id, clock.now()) == {"served": 2, "offered": 0, "refunded": 0}
    db.session.commit()
    assert [o.status for o in presale.queue(sale.id)] == ["ready", "ready"]

    # The queue served and the window closed: the item is on sale again.
    receive_stock(item.id, 1, reference="PO-2", reason="received", now=clock.now())
    db.session.commit()
    assert "Buy now" in client.get(f"/catalog/{item.id}").get_data(as_text=True)
    assert _buy(client, item, "c-buy-3").status_code == 302
    assert db.session.scalar(select(Order.status).where(Order.member_id == c.id)) == "ready"


def test_a_direct_buy_while_the_presale_window_is_open_is_refused_and_changes_nothing(client, tiers, clock):
    item, sale = _open_presale(clock, cap=5)
    from mall.inventory.services import receive_stock
    receive_stock(item.id, 3, reference="PO-early", reason="received", now=clock.now())
    member = make_user(clock.now(), login="direct@example.com")
    give_points(member.id, 5000, clock.now())
    db.session.commit()
    _login(client, member)
    refused = _buy(client, item, "direct")
    assert refused.status_code == 422
    assert "This item is reserved for pre-orders right now." in refused.get_data(as_text=True)
    db.session.expire_all()
    assert _order_count() == 0
    assert db.session.get(PointsAccount, member.id).balance == 5000
    assert db.session.get(StockLevel, item.id).sold == 0


def test_the_reserved_refusal_speaks_the_members_language(client, tiers, clock):
    item, sale = _open_presale(clock, cap=5)
    member = make_user(clock.now(), login="zh@example.com")
    give_points(member.id, 5000, clock.now())
    db.session.commit()
    _login(client, member)
    refused = client.post(f"/catalog/{item.id}/buy", headers={"Accept-Language": "zh-CN"},
                          data={"plan_id": item.plans[0].id, "quantity": 1, "key": "zh"})
    assert "此商品目前为预订订单保留。" in refused.get_data(as_text=True)


@pytest.mark.parametrize("points", [600, 1400])  # cheaper, and dearer (refused before a top-up is asked)
def test_accepting_a_substitute_beyond_its_per_member_limit_is_refused_and_changes_nothing(client, tiers, clock,
                                                                                          points):
    from mall.checkout.orders import place_order
    item, sale = _open_presale(clock, cap=2)
    limited = make_item(clock.now(), name="Mug", points=points, stock=5, limit=1)
    set_substitutes(item.id, [limited.id, make_item(clock.now(), name="Cup").id], actor_id=None, now=clock.now())
    owner, member = _preorders(clock, item, sale, 2)
    place_order(member.id, [LineRequest(limited.id, limited.plans[0].id, 1)], key="own-mug", now=clock.now(),
                hold_minutes=15, card_payments=False, points_per_unit=100)
    receive_goods = presale.receive_goods(item.id, 1, reference="PO-1", reason="received", now=clock.now())
    assert receive_goods == {"served": 1, "offered": 1, "refunded": 0}
    db.session.commit()
    offered = db.session.scalar(select(Order).where(Order.member_id == member.id, Order.presale_id == sale.id))
    assert offered.status == "offered"
    _login(client, member)
    answer = client.post(f"/orders/{offered.id}/offer", data={"substitute_id": limited.id}, follow_redirects=True)
    assert "Mug is limited to 1 per member; you already have 1." in answer.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Order, offered.id).status == "offered"
    assert [(l.item_id, l.points) for l in db.session.get(Order, offered.id).lines] == [(item.id, 1000)]
    assert db.session.get(PointsAccount, member.id).balance == 5000 - 1000 - points
    assert db.session.get(StockLevel, limited.id).sold == 1


def test_on_the_ship_date_a_later_pre_order_the_stock_covers_is_served_not_offered(client, tiers, clock):
    """A (first) needs 3, B needs 1, 2 units came: before the ship date nobody jumps the queue;
    on it, A is offered a substitute or refund and B gets one of the units on the shelf."""
    item, sale = _open_presale(clock, cap=5, ships_in_days=10)
    a, b = (make_user(clock.now(), login=f"ship-{n}@example.com") for n in ("a", "b"))
    for m in (a, b):
        give_points(m.id, 5000, clock.now())
    for member, quantity in ((a, 3), (b, 1)):
        presale.preorder(member.id, sale.id, LineRequest(item.id, item.plans[0].id, quantity), key=f"k{quantity}",
                         now=clock.now(), points_per_unit=100)
    clock.advance(days=8)
    assert presale.receive_goods(item.id, 2, reference="PO-S", reason="received", now=clock.now()) \
        == {"served": 0, "offered": 0, "refunded": 0}
    db.session.commit()
    clock.advance(days=2)  # the ship date
    outcome = presale.allocate(sale.id, clock.now())
    db.session.commit()
    assert outcome["served"] == 1 and outcome["offered"] + outcome["refunded"] == 1
    statuses = {o.member_id: o.status for o in presale.queue(sale.id)}
    assert statuses[b.id] == "ready" and statuses[a.id] in ("offered", "refunded")
    level = db.session.get(StockLevel, item.id)
    assert (level.received, level.sold) == (2, 1)
    assert _failed_checks() == []
