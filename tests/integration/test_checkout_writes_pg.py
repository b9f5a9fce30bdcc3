"""What the one-statement writes of a checkout on PostgreSQL (issue 15) still do as the ORM
path does: the spend takes the soonest-expiring lots first and expires lapsed ones first,
and risk screening records the origin and sightings and holds a risky order."""
from sqlalchemy import select

from mall import settings
from mall.checkout.models import Order
from mall.extensions import db
from mall.points.models import LedgerEntry, LotMovement, PointLot, PointsAccount
from mall.risk.models import MemberSighting, OrderOrigin, RiskReview
from tests.factories import PASSWORD, give_points, make_item, make_tiers, make_user


def _buy(app, login, item, key):
    item_id, plan_id = item if isinstance(item, tuple) else (item.id, item.plans[0].id)
    client = app.test_client()
    client.post("/login", data={"identifier": login, "password": PASSWORD})
    response = client.post(f"/catalog/{item_id}/buy", data={"plan_id": plan_id, "quantity": 1, "key": key})
    db.session.remove()
    return response, db.session.scalar(select(Order).where(Order.idempotency_key == key))


def test_a_spend_across_three_lots_takes_the_soonest_expiring_first(pg_app, clock):
    make_tiers()
    member = make_user(clock.now(), login="lots@example.com")
    member_id = member.id
    late, soon, middle = (give_points(member_id, p, clock.now(), days_valid=d).id
                          for p, d in ((1000, 300), (300, 10), (500, 100)))
    item = make_item(clock.now(), points=1000)
    db.session.commit()

    response, order = _buy(pg_app, "lots@example.com", item, "three-lots")

    assert response.status_code == 302 and order.status == "ready"
    entry = db.session.scalar(select(LedgerEntry).where(LedgerEntry.idempotency_key == f"order:{order.id}"))
    assert (entry.points, entry.balance_after, entry.reference) == (-1000, 800, order.number)
    lots = {lot.entry_id: lot for lot in db.session.scalars(select(PointLot).where(PointLot.member_id == member_id))}
    assert (lots[soon].remaining, lots[middle].remaining, lots[late].remaining) == (0, 0, 800)
    moved = {m.lot_id: m.points for m in db.session.scalars(select(LotMovement).where(LotMovement.entry_id == entry.id))}
    assert moved == {lots[soon].id: -300, lots[middle].id: -500, lots[late].id: -200}
    assert db.session.get(PointsAccount, member_id).balance == 800


def test_a_lot_past_its_expiry_is_expired_not_spent(pg_app, clock):
    make_tiers()
    member_id = make_user(clock.now(), login="lapsed@example.com").id
    give_points(member_id, 400, clock.now(), days_valid=1)
    give_points(member_id, 2000, clock.now(), days_valid=300)
    item = make_item(clock.now(), points=1000)
    db.session.commit()
    clock.advance(days=2)

    response, order = _buy(pg_app, "lapsed@example.com", item, "after-lapse")

    assert response.status_code == 302 and order.status == "ready"
    kinds = [(e.kind, e.points) for e in db.session.scalars(
        select(LedgerEntry).where(LedgerEntry.member_id == member_id).order_by(LedgerEntry.id))]
    assert kinds[-2:] == [("expire", -400), ("spend", -1000)]
    assert db.session.get(PointsAccount, member_id).balance == 1000


def test_screening_records_where_orders_come_from_and_holds_the_risky_ones(pg_app, clock):
    pg_app.config.update(MALL_RISK_PRIVATE_ADDRESSES=True, MALL_RISK_ADDRESS_ORDERS=2)
    settings.reload(pg_app)
    make_tiers()
    member_id = make_user(clock.now(), login="risky@example.com").id
    give_points(member_id, 50_000, clock.now())
    cheap, dear = make_item(clock.now(), points=100), make_item(clock.now(), points=10_000)
    dear = (dear.id, dear.plans[0].id)
    db.session.commit()

    _, first = _buy(pg_app, "risky@example.com", cheap, "first")
    assert first.status == "ready"  # one order from the address: below the limit of 2
    assert db.session.get(OrderOrigin, first.id).ip == "127.0.0.1"
    sightings = db.session.scalars(select(MemberSighting).where(MemberSighting.member_id == member_id)).all()
    assert ("ip", "127.0.0.1") in {(s.kind, s.value) for s in sightings}

    clock.advance(minutes=5)
    _, second = _buy(pg_app, "risky@example.com", dear, "second")
    assert second.status == "in_review"
    review = db.session.scalar(select(RiskReview).where(RiskReview.order_id == second.id))
    assert review.reasons == ["new_account_high_value", "many_orders_one_address"]
    ip_sighting = db.session.scalar(select(MemberSighting).where(
        MemberSighting.member_id == member_id, MemberSighting.kind == "ip"))
    assert ip_sighting.last_seen == clock.now()  # seen again: the sighting's UPDATE ran
