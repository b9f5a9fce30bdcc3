"""The Redis admission counter never leaks a unit: after any mix of double taps, refusals
and failures it still equals the stock PostgreSQL has available (issue 11, item 7)."""
from sqlalchemy import func, select

from mall import unit_of_work
from mall.checkout import orders as order_service
from mall.checkout.models import Order
from mall.checkout.quotes import LineRequest
from mall.errors import InsufficientPoints, LockUnavailable
from mall.extensions import db
from mall.inventory import reservations
from mall.inventory.admission import KEY, app_admission
from mall.inventory.reservations import OutOfStock, Want
from tests.concurrency import race
from tests.factories import PASSWORD, give_points, make_item, make_tiers, make_user

ARGS = dict(hold_minutes=10, card_payments=False, points_per_unit=100)


def _counter(app, item_id) -> int:
    return int(app.extensions["mall.redis"].get(KEY.format(item_id=item_id)))


def test_eight_concurrent_double_taps_leave_the_counter_equal_to_the_database(pg_app, clock):
    make_tiers()
    item = make_item(clock.now(), points=100, stock=20)
    members = [make_user(clock.now()) for _ in range(8)]
    for m in members:
        give_points(m.id, 1000, clock.now())
    db.session.commit()
    plan_id, item_id, ids = item.plans[0].id, item.id, [m.id for m in members]

    def tap(i):  # taps 2k and 2k+1 are one member's double tap: the same submit key
        member = ids[i // 2]
        order = order_service.place_order(member, [LineRequest(item_id, plan_id, 1)], key=f"tap-{member}",
                                          now=clock.now(), **ARGS)
        unit_of_work.commit()  # the request's commit, which runs the after-commit give-backs
        return order.id

    outcomes = race(pg_app, 16, tap, refusals=(OutOfStock, InsufficientPoints, LockUnavailable), returns=True)

    db.session.expire_all()
    assert all(isinstance(o, int) for o in outcomes), outcomes
    for k in range(8):  # both taps of a double tap answer with the one order it made
        assert outcomes[2 * k] == outcomes[2 * k + 1]
    assert db.session.scalar(select(func.count()).select_from(Order)) == 8
    assert reservations.available(item_id) == 12
    assert _counter(pg_app, item_id) == 12


def test_a_refused_or_failed_admission_gives_every_unit_back(pg_app, clock):
    make_tiers()
    first, second = make_item(clock.now(), stock=5), make_item(clock.now(), stock=1)
    db.session.commit()
    admission = app_admission()
    wants = [Want(first.id, 1), Want(second.id, 2)]
    with admission.admit(wants, reservations.available) as admitted:
        assert admitted.refused == second.id  # the second item can't be had: the first's unit goes back
    assert (_counter(pg_app, first.id), _counter(pg_app, second.id)) == (5, 1)
    try:
        with admission.admit([Want(first.id, 2)], reservations.available):
            raise OutOfStock([first.id])
    except OutOfStock:
        pass
    assert _counter(pg_app, first.id) == 5


def test_the_second_tap_on_the_last_unit_shows_the_order_the_first_made(pg_app, clock):
    make_tiers()
    member = make_user(clock.now(), login="twice@example.com")
    give_points(member.id, 5000, clock.now())
    item = make_item(clock.now(), points=1000, stock=1)
    db.session.commit()
    client = pg_app.test_client()
    client.post("/login", data={"identifier": "twice@example.com", "password": PASSWORD})
    form = {"plan_id": item.plans[0].id, "quantity": 1, "key": "same-submit"}

    first = client.post(f"/catalog/{item.id}/buy", data=form)
    assert first.status_code == 302
    assert _counter(pg_app, item.id) == 0  # the sold-out gate now refuses everyone else...
    second = client.post(f"/catalog/{item.id}/buy", data=form)
    assert second.status_code == 302  # ...but not the twin of the submit that bought it
    assert second.headers["Location"] == first.headers["Location"]
    other = client.post(f"/catalog/{item.id}/buy", data={**form, "key": "another-submit"})
    assert other.status_code == 409 and "Nothing was charged" in other.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Order)) == 1
