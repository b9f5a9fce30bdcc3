"""The checkout fast path on PostgreSQL (mall/checkout/fast_path.py, issue 15) writes what
the ORM path writes: the same order, line, events, ledger entry, lots, lot movements, stock
rows, reservation, notification and risk records, and it hands every case it does not
cover back to the ORM path (a lapsed lot), refuses with nothing written, and answers a
replay with the first order."""
import dataclasses

import pytest
from sqlalchemy import func, select, update

from mall import settings, unit_of_work
from mall.audit import run_audit
from mall.checkout import fast_path
from mall.checkout import orders as order_service
from mall.checkout.models import Order, OrderEvent, OrderLine
from mall.checkout.quotes import LineRequest
from mall.errors import InsufficientPoints, LockUnavailable
from mall.extensions import db
from mall.inventory.admission import KEY
from mall.inventory.models import Reservation, StockLevel, StockMovement
from mall.inventory.reservations import OutOfStock
from mall.notifications.models import Notification
from mall.points.models import LedgerEntry, LotMovement, PointLot, PointsAccount
from mall.risk.models import MemberSighting, OrderOrigin, RiskReview
from mall.wallet.models import WalletItem
from tests.concurrency import race
from tests.factories import PASSWORD, give_points, make_item, make_tiers, make_user
from tests.wallet_world import make_spec

ARGS = dict(hold_minutes=10, card_payments=False, points_per_unit=100)


def _buy(app, login, item_id, plan_id, key):
    client = app.test_client()
    client.set_cookie("mall_device", "phone-" + login.split("@")[0])  # each member on their own phone
    client.post("/login", data={"identifier": login, "password": PASSWORD})
    response = client.post(f"/catalog/{item_id}/buy", data={"plan_id": plan_id, "quantity": 2, "key": key})
    db.session.remove()
    return response, db.session.scalar(select(Order).where(Order.idempotency_key == key))


def _member_and_item(clock, login: str, *, points: int, price: int, stock: int | None):
    """Tiers, a member with `points`, and an item at `price` points (`stock` units, or the
    factory's default): (member id, item id, plan id), not committed yet."""
    make_tiers()
    member_id = make_user(clock.now(), login=login).id
    give_points(member_id, points, clock.now())
    item = make_item(clock.now(), points=price, **({} if stock is None else {"stock": stock}))
    return member_id, item.id, item.plans[0].id


def _columns(row, skip=()):
    return {c.key: getattr(row, c.key) for c in row.__table__.columns if c.key not in skip}


def _snapshot(order: Order) -> dict:
    """Every row the checkout wrote, with the ids that differ between two orders named."""
    oid, member, number = order.id, order.member_id, order.number
    ref = f"order:{oid}"
    device = db.session.get(OrderOrigin, oid).device

    def named(value, key=None):
        if key in ("member_id", "actor_id", "account_id") and value == member:
            return "<member>"
        if key == "order_id" and value == oid:
            return "<id>"
        if key in ("value", "device") and value == device:
            return "<device>"
        if isinstance(value, str):
            return value.replace(ref, "order:<id>").replace(number, "<number>")
        if isinstance(value, dict):
            return {k: named(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [named(v) for v in value]
        return value

    def rows(model, *where, order_by=None, skip=("id",)):
        found = db.session.scalars(select(model).where(*where).order_by(order_by or model.id)).all()
        return [named(_columns(r, skip)) for r in found]

    entry = db.session.scalar(select(LedgerEntry).where(LedgerEntry.source == "order",
                                                        LedgerEntry.idempotency_key == ref))
    lots = db.session.scalars(select(PointLot).where(PointLot.member_id == member).order_by(PointLot.id)).all()
    lot_index = {lot.id: n for n, lot in enumerate(lots)}
    return {
        "order": named(_columns(order, ("id", "number", "member_id", "idempotency_key"))),
        "lines": [named(_columns(line, ("id", "order_id"))) for line in order.lines],
        "events": rows(OrderEvent, OrderEvent.order_id == oid, skip=("id", "order_id")),
        "entry": named(_columns(entry, ("id", "member_id"))) if entry else None,
        "lot_movements": sorted((lot_index[m.lot_id], m.points) for m in db.session.scalars(
            select(LotMovement).where(LotMovement.entry_id == entry.id))) if entry else [],
        "lots": [(lot.amount, lot.remaining, lot.expires_at) for lot in lots],
        "account": (lambda a: (a.balance, a.pending))(db.session.get(PointsAccount, member)),
        "stock_movements": rows(StockMovement, StockMovement.reference == ref),
        "reservations": rows(Reservation, Reservation.order_id == oid, skip=("id", "order_id")),
        "notifications": rows(Notification, Notification.member_id == member),
        "origin": named(_columns(db.session.get(OrderOrigin, oid), ("order_id",))),
        "sightings": rows(MemberSighting, MemberSighting.member_id == member),
        "reviews": rows(RiskReview, RiskReview.order_id == oid, skip=("id", "order_id")),
        "wallet": rows(WalletItem, WalletItem.source_ref == ref, skip=("id", "code", "short_code")),
    }


@pytest.fixture
def spy(monkeypatch):
    """Counts the fast path's writes; `spy.off()` sends every checkout down the ORM path."""
    class Spy:
        writes = 0

        def off(self):
            monkeypatch.setattr(fast_path, "may_apply", lambda *a, **k: False)

        def on(self):
            monkeypatch.setattr(fast_path, "may_apply", real_may_apply)
    real_may_apply, real_write = fast_path.may_apply, fast_path.write

    def counted(*args, **kwargs):
        Spy.writes += 1
        return real_write(*args, **kwargs)
    monkeypatch.setattr(fast_path, "write", counted)
    return Spy()


def _two_members(clock, lots):
    ids = []
    for login in ("orm@example.com", "fast@example.com"):
        member_id = make_user(clock.now(), login=login).id
        for points, days in lots:
            give_points(member_id, points, clock.now(), days_valid=days)
        ids.append(member_id)
    return ids


@pytest.mark.parametrize("scenario", ["points", "points_and_cash", "held_for_review", "coupon"])
def test_the_fast_path_writes_the_same_rows_as_the_orm_path(pg_app, clock, spy, scenario):
    make_tiers()
    _two_members(clock, [(1000, 300), (300, 10), (900, 100), (20_000, 400)])
    if scenario == "points_and_cash":
        item = make_item(clock.now(), points=500, stock=10, plans=[("points_cash", 400, 1500, None)])
        plan_id = item.plans[1].id
    elif scenario == "coupon":  # fulfilled at once: the wallet's receiver issues the coupons
        item = make_item(clock.now(), points=800, stock=10, kind="coupon")
        make_spec(clock.now(), kind="amount", value_minor=1_000, name="Ten off", item_id=item.id)
        plan_id = item.plans[0].id
    else:
        item = make_item(clock.now(), points=10_000 if scenario == "held_for_review" else 700, stock=10)
        plan_id = item.plans[0].id
    item_id = item.id
    db.session.commit()

    spy.off()
    slow_response, slow = _buy(pg_app, "orm@example.com", item_id, plan_id, "same-buy")
    slow_status, before = slow.status, _snapshot(slow)
    assert spy.writes == 0
    spy.on()
    fast_response, fast = _buy(pg_app, "fast@example.com", item_id, plan_id, "same-buy")
    assert spy.writes == 1

    assert slow_response.status_code == fast_response.status_code == 302
    expected = {"points": "ready", "points_and_cash": "awaiting_payment", "held_for_review": "in_review",
                "coupon": "fulfilled"}[scenario]
    assert slow_status == fast.status == expected
    after = _snapshot(fast)
    assert after == before
    assert after["entry"]["detail"]["order_id"] == "<id>" and after["lot_movements"]  # the spend is there
    assert after["stock_movements"] and after["reservations"]
    if scenario == "held_for_review":
        assert [e["kind"] for e in after["events"]] == ["placed", "held_for_review"] and after["reviews"]
    elif scenario == "coupon":
        assert [e["kind"] for e in after["events"]] == ["placed", "fulfilled"]
        assert [(w["kind"], w["value_minor"], w["seq"]) for w in after["wallet"]] == [("amount", 1000, 1),
                                                                                    ("amount", 1000, 2)]
    elif scenario == "points":
        assert [e["kind"] for e in after["events"]] == ["placed", "ready_for_pickup"]
        assert after["notifications"][0]["key"] == "order:<id>:ready_for_pickup"
    assert db.session.get(StockLevel, item_id).sold + db.session.get(StockLevel, item_id).reserved == 4
    assert [f.check for f in run_audit() if f.violations] == []


def test_a_lapsed_lot_sends_the_checkout_down_the_orm_path_which_expires_it(pg_app, clock, spy):
    make_tiers()
    member_id = make_user(clock.now(), login="lapsed@example.com").id
    give_points(member_id, 400, clock.now(), days_valid=1)
    give_points(member_id, 5000, clock.now(), days_valid=300)
    item = make_item(clock.now(), points=1000)
    item_id, plan_id = item.id, item.plans[0].id
    db.session.commit()
    clock.advance(days=2)

    response, order = _buy(pg_app, "lapsed@example.com", item_id, plan_id, "after-lapse")

    assert response.status_code == 302 and order.status == "ready"
    assert spy.writes == 0
    kinds = [(e.kind, e.points) for e in db.session.scalars(
        select(LedgerEntry).where(LedgerEntry.member_id == member_id).order_by(LedgerEntry.id))]
    assert kinds[-2:] == [("expire", -400), ("spend", -2000)]
    assert db.session.get(PointsAccount, member_id).balance == 3000


def test_too_few_points_writes_nothing(pg_app, clock, spy):
    member_id, item_id, plan_id = _member_and_item(clock, "short@example.com", points=1500, price=1000, stock=5)
    db.session.commit()

    response, order = _buy(pg_app, "short@example.com", item_id, plan_id, "too-dear")  # 2 x 1000

    assert response.status_code == 422 and order is None
    assert db.session.get(PointsAccount, member_id).balance == 1500
    assert db.session.scalars(select(LedgerEntry).where(LedgerEntry.source == "order")).all() == []
    assert db.session.scalars(select(StockMovement).where(StockMovement.kind != "receive")).all() == []
    assert db.session.scalar(select(Notification.id)) is None


def test_a_balance_update_that_matches_nothing_leaves_nothing_behind(pg_app, clock):
    """The raw statement's own guard, below the price check: no entry, so the order it wrote
    must go (place_order rolls the transaction back; here a savepoint stands in for it)."""
    make_tiers()
    member_id = make_user(clock.now(), login="guard@example.com").id
    give_points(member_id, 500, clock.now())
    item = make_item(clock.now(), points=1000, stock=5)
    db.session.commit()
    from mall.checkout.quotes import LineRequest, price
    locked = fast_path.lock(member_id)
    totals = price(member_id, [LineRequest(item.id, item.plans[0].id, 1)], clock.now(), points_per_unit=100,
                   balance=locked.spendable)
    lot_id = locked.lots[0][0]
    with pytest.raises(InsufficientPoints):
        with db.session.begin_nested():
            fast_path.write(member_id, totals, [(lot_id, 1000)], number="PMTEST0001", key="guarded", now=clock.now(),
                            status="ready", reserved_until=None, payment_mode="none",
                            events=[("placed", "member", member_id, "")])
    db.session.commit()
    db.session.expire_all()
    assert db.session.scalar(select(Order.id)) is None
    assert db.session.scalar(select(OrderEvent.id)) is None
    assert db.session.get(PointsAccount, member_id).balance == 500
    assert db.session.get(PointLot, lot_id).remaining == 500
    assert db.session.scalars(select(LedgerEntry).where(LedgerEntry.source == "order")).all() == []


def test_a_replayed_submit_answers_with_the_first_order(pg_app, clock, spy):
    member_id, item_id, plan_id = _member_and_item(clock, "twice@example.com", points=5000, price=1000, stock=5)
    db.session.commit()

    first_response, first = _buy(pg_app, "twice@example.com", item_id, plan_id, "once")
    first_id = first.id
    again_response, again = _buy(pg_app, "twice@example.com", item_id, plan_id, "once")

    assert first_response.status_code == again_response.status_code == 302
    assert again_response.headers["Location"] == first_response.headers["Location"]
    # No look-up of the key first (place_order): the replay's own write ran, its order
    # INSERT skipped the taken (member, key) and nothing else was written; place_order
    # answers with the first order.
    assert first_id == again.id and spy.writes == 2
    assert db.session.get(PointsAccount, member_id).balance == 3000
    assert len(db.session.scalars(select(LedgerEntry).where(LedgerEntry.source == "order")).all()) == 1
    assert db.session.get(StockLevel, item_id).sold == 2
    assert len(db.session.scalars(select(OrderEvent).where(OrderEvent.order_id == first_id)).all()) == 2


def test_risk_settings_still_apply_on_the_fast_path(pg_app, clock, spy):
    pg_app.config.update(MALL_RISK_PRIVATE_ADDRESSES=True, MALL_RISK_ADDRESS_ORDERS=2)
    settings.reload(pg_app)
    member_id, item_id, plan_id = _member_and_item(clock, "addr@example.com", points=50_000, price=100, stock=None)
    db.session.commit()

    _, first = _buy(pg_app, "addr@example.com", item_id, plan_id, "a1")
    first_status = first.status
    clock.advance(minutes=1)
    _, second = _buy(pg_app, "addr@example.com", item_id, plan_id, "a2")

    assert (first_status, second.status) == ("ready", "in_review")
    assert spy.writes == 2
    assert [e.kind for e in db.session.scalars(select(OrderEvent).where(OrderEvent.order_id == second.id)
                                               .order_by(OrderEvent.id))] == ["placed", "held_for_review"]
    assert [(r.status, r.quantity) for r in db.session.scalars(
        select(Reservation).where(Reservation.order_id == second.id))] == [("held", 2)]


def _written(member_id: int, item_id: int) -> dict:
    """What a checkout writes, counted: every table the fast path's statements touch."""
    db.session.expire_all()

    def count(model, *where):
        return db.session.scalar(select(func.count()).select_from(model).where(*where))
    level = db.session.get(StockLevel, item_id)
    return {
        "orders": count(Order), "lines": count(OrderLine), "events": count(OrderEvent),
        "entries": count(LedgerEntry, LedgerEntry.member_id == member_id),
        "lot_movements": count(LotMovement), "reservations": count(Reservation),
        "stock_movements": count(StockMovement), "origins": count(OrderOrigin),
        "notifications": count(Notification, Notification.member_id == member_id),
        "balance": db.session.get(PointsAccount, member_id).balance,
        "lots": sorted(db.session.scalars(select(PointLot.remaining).where(PointLot.member_id == member_id))),
        "stock": (level.received, level.reserved, level.sold),
    }


def _admission_counter(app, item_id) -> int:
    return int(app.extensions["mall.redis"].get(KEY.format(item_id=item_id)))


def test_a_replay_skips_its_order_insert_writes_nothing_and_answers_with_the_first_order(pg_app, clock, spy):
    member_id, item_id, plan_id = _member_and_item(clock, "replay@example.com", points=5000, price=1000, stock=5)
    db.session.commit()

    def submit():
        return order_service.place_order(member_id, [LineRequest(item_id, plan_id, 1)], key="one-submit",
                                         now=clock.now(), **ARGS)
    first_id = submit().id
    unit_of_work.commit()
    db.session.remove()
    before = _written(member_id, item_id)

    counter = _admission_counter(pg_app, item_id)

    again = submit()  # the account row is free: the replay reaches the fast path's write
    assert again.id == first_id and spy.writes == 2
    assert not unit_of_work.wrote()  # ON CONFLICT skipped the order, and every other CTE hangs off it
    unit_of_work.commit()
    db.session.remove()

    assert _written(member_id, item_id) == before
    assert before["balance"] == 4000 and before["stock"] == (5, 0, 1)
    assert _admission_counter(pg_app, item_id) == counter  # the unit the replay was admitted for is back


def test_out_of_stock_after_the_order_is_written_leaves_nothing_and_the_next_buy_works(pg_app, clock, spy):
    make_tiers()
    first_id = make_user(clock.now(), login="early@example.com").id
    late_id = make_user(clock.now(), login="late@example.com").id
    for member_id in (first_id, late_id):
        give_points(member_id, 5000, clock.now())
    scarce = make_item(clock.now(), points=1000, stock=2)
    other = make_item(clock.now(), points=500, stock=5)
    scarce_id, scarce_plan, other_id, other_plan = scarce.id, scarce.plans[0].id, other.id, other.plans[0].id
    db.session.commit()
    _buy(pg_app, "early@example.com", scarce_id, scarce_plan, "both-units")  # 2 units: none left
    # Admission's counter is behind the database (as after a stock correction): the late tap is
    # admitted, its order and spend are written, and only the stock hold refuses it.
    pg_app.extensions["mall.redis"].set(KEY.format(item_id=scarce_id), 2)
    before = _written(late_id, scarce_id)

    response, order = _buy(pg_app, "late@example.com", scarce_id, scarce_plan, "too-late")

    # MALL_STRICT_REFUSALS: a 409 answered with the order's writes still there would fail here
    assert response.status_code == 409 and order is None
    assert spy.writes == 2  # the late tap's order was written before the hold refused it
    assert _written(late_id, scarce_id) == before
    assert before["balance"] == 5000 and before["stock"] == (2, 0, 2)
    assert _admission_counter(pg_app, scarce_id) == 2  # its admitted units went back at once

    response, order = _buy(pg_app, "late@example.com", other_id, other_plan, "something-else")
    assert response.status_code == 302 and order.status == "ready" and spy.writes == 3
    assert db.session.get(PointsAccount, late_id).balance == 4000
    assert [e.points for e in db.session.scalars(select(LedgerEntry).where(
        LedgerEntry.member_id == late_id, LedgerEntry.source == "order"))] == [-1000]
    assert [f.check for f in run_audit() if f.violations] == []


def test_the_balance_guard_refusing_after_the_write_leaves_nothing(pg_app, clock, spy, monkeypatch):
    """InsufficientPoints from the statement itself (its conditional balance UPDATE: 1500 of the
    3000 are pending), past a price check that was told a larger balance: the request's
    transaction is rolled back."""
    member_id, item_id, plan_id = _member_and_item(clock, "guarded@example.com", points=3000, price=1000, stock=5)
    db.session.execute(update(PointsAccount).where(PointsAccount.member_id == member_id).values(pending=1500))
    db.session.commit()
    real_price = order_service.price
    monkeypatch.setattr(order_service, "price",
                        lambda *a, **k: dataclasses.replace(real_price(*a, **k), balance=1_000_000))
    before = _written(member_id, item_id)

    response, order = _buy(pg_app, "guarded@example.com", item_id, plan_id, "over-budget")  # 2 x 1000

    assert response.status_code == 422 and order is None and spy.writes == 1
    assert _written(member_id, item_id) == before


def test_eight_buyers_of_the_last_five_units_past_the_admission_counter_make_five_orders(pg_app, clock, spy):
    """Every buyer is admitted (the counter says 100), so each writes its order and spend and
    the stock row decides: the three it refuses roll everything back."""
    make_tiers()
    item = make_item(clock.now(), points=100, stock=5)
    ids = [make_user(clock.now()).id for _ in range(8)]
    for member_id in ids:
        give_points(member_id, 1000, clock.now())
    item_id, plan_id = item.id, item.plans[0].id
    db.session.commit()
    pg_app.extensions["mall.redis"].set(KEY.format(item_id=item_id), 100)

    outcomes = race(pg_app, 8, lambda i: order_service.place_order(
        ids[i], [LineRequest(item_id, plan_id, 1)], key=f"last-{i}", now=clock.now(), **ARGS),
        refusals=(OutOfStock, InsufficientPoints, LockUnavailable))

    db.session.expire_all()
    assert sorted(outcomes) == ["OutOfStock"] * 3 + ["ok"] * 5
    assert spy.writes == 8
    assert db.session.scalar(select(func.count()).select_from(Order)) == 5
    level = db.session.get(StockLevel, item_id)
    assert (level.received, level.reserved, level.sold) == (5, 0, 5)
    balances = sorted(db.session.get(PointsAccount, member_id).balance for member_id in ids)
    assert balances == [900] * 5 + [1000] * 3
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry).where(LedgerEntry.source == "order")) == 5
    assert [f.check for f in run_audit() if f.violations] == []


def test_a_checkout_in_a_transaction_that_already_holds_work_takes_the_orm_path(pg_app, clock, spy):
    """The fast path's refusals roll the whole transaction back, so it is not taken when that
    would undo someone else's work: here the caller's uncommitted item."""
    make_tiers()
    member_id = make_user(clock.now(), login="caller@example.com").id
    give_points(member_id, 5000, clock.now())
    db.session.commit()
    item = make_item(clock.now(), points=1000, stock=5)  # not committed

    order = order_service.place_order(member_id, [LineRequest(item.id, item.plans[0].id, 1)], key="inside",
                                      now=clock.now(), **ARGS)

    assert order.status == "ready" and spy.writes == 0
