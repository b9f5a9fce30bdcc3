"""A presale's ship date is a shop-local date: its shortfall offers start at local midnight,
not eight hours later when the UTC date turns (issue 11, item 9). Shop time is Asia/Shanghai."""
from datetime import date, datetime, timedelta, timezone

from mall.catalog.substitutes import set_substitutes
from mall.checkout.models import Order, OrderEvent
from mall.checkout.quotes import LineRequest
from mall.extensions import db
from mall.presale import services as presale
from sqlalchemy import select
from tests.factories import PASSWORD, give_points, make_item, make_user

SHIPS_ON = date(2026, 6, 10)
LOCAL_2330_THE_EVE = datetime(2026, 6, 9, 15, 30, tzinfo=timezone.utc)   # 23:30 on 9 June in Shanghai
LOCAL_0030_SHIP_DAY = datetime(2026, 6, 9, 16, 30, tzinfo=timezone.utc)  # 00:30 on 10 June; UTC still says the 9th


def _presale_with_one_preorder(clock):
    item = make_item(clock.now(), name="Console", points=1000, stock=0)
    cheap = make_item(clock.now(), name="Handheld", points=600, stock=2)
    dear = make_item(clock.now(), name="Console Pro", points=1400, stock=2)
    set_substitutes(item.id, [cheap.id, dear.id], actor_id=None, now=clock.now())
    sale = presale.save_presale(item.id, opens_at=clock.now() - timedelta(hours=1),
                                closes_at=clock.now() + timedelta(days=7), cap=3, ships_on=SHIPS_ON,
                                offer_hours=48, now=clock.now())
    member = make_user(clock.now(), login="fan@example.com")
    give_points(member.id, 5000, clock.now())
    order = presale.preorder(member.id, sale.id, LineRequest(item.id, item.plans[0].id, 1), key="pre",
                             now=clock.now(), points_per_unit=100)
    db.session.commit()
    return sale, order


def test_shortfall_offers_start_at_local_midnight_of_the_ship_date(tiers, clock):
    sale, order = _presale_with_one_preorder(clock)
    assert presale.allocate(sale.id, LOCAL_2330_THE_EVE)["offered"] == 0  # the eve: still waiting
    assert presale.allocate(sale.id, LOCAL_0030_SHIP_DAY)["offered"] == 1
    db.session.commit()
    assert db.session.get(Order, order.id).status == "offered"


def test_the_timeline_shows_the_offer_deadline_in_shop_time(tiers, clock, client):
    sale, order = _presale_with_one_preorder(clock)
    presale.allocate(sale.id, LOCAL_0030_SHIP_DAY)
    db.session.commit()
    note = db.session.scalar(select(OrderEvent.note).where(OrderEvent.kind == "shortfall_offer"))
    assert note == "choose a substitute or a full refund by 2026-06-12 00:30"  # 48 hours on, Shanghai time
    client.post("/login", data={"identifier": "fan@example.com", "password": PASSWORD})
    page = client.get(f"/orders/{order.id}").get_data(as_text=True)
    assert "2026-06-12 00:30" in page and "UTC" not in page
