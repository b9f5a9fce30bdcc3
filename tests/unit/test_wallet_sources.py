"""Everything that fills the wallet ends up in one place and is spent the same way (issue 13,
end to end across the branches): a right held shows on /wallet, a game's coupon prize shows
on /wallet and is spent at the till through the POS API, and a claimed red packet shows on
/wallet and takes money off a Buy now order in the mall."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from mall.audit import run_audit
from mall.catalog.models import Item
from mall.checkout.models import Order
from mall.extensions import db
from mall.games import management
from mall.games.management import PrizeData
from mall.games.play import play
from mall.redpackets.claims import claim
from mall.rights.services import grant
from mall.wallet.models import WalletItem
from tests.factories import make_category, make_item
from tests.games_world import THANKS, make_game
from tests.instore_world import make_world
from tests.redpacket_world import make_campaign
from tests.instore_world import OpenAPIValidator
from tests.wallet_world import make_spec

LINES = [{"sku": "VEG-1", "name": "Bok choy", "category": "fresh", "quantity": 1, "amount_minor": 3_000}]


@pytest.fixture
def world(app, clock):
    w = make_world(clock.now())
    make_category("fresh", "Fresh food")
    db.session.commit()
    return w


def _wallet_page(client, auth):
    auth.login("member@example.com")
    page = client.get("/wallet")
    assert page.status_code == 200
    return page.get_data(as_text=True)


def test_a_member_holding_priority_purchase_sees_it_in_the_wallet(world, client, auth, clock):
    grant(world.member_id, "priority_purchase", source="test:priority", valid_from=clock.now(),
          valid_until=clock.now() + timedelta(days=90), now=clock.now())
    db.session.commit()
    page = _wallet_page(client, auth)
    assert "My rights" in page and 'data-right="priority_purchase"' in page and "Priority purchase" in page


def _game_coupon(world, clock, key="g1") -> WalletItem:
    spec = make_spec(clock.now(), kind="amount", value_minor=500, name="Game ¥5 off")
    game = make_game(clock.now(), open_it=False, prizes=[("nothing", THANKS, 1, None, None)])
    management.add_prize(game.id, PrizeData(kind="coupon", label="¥5 off", weight=1_000_000, coupon_spec_id=spec.id),
                         actor_id=None, now=clock.now())
    management.open_game(game.id, actor_id=None, now=clock.now())
    db.session.commit()
    won = play(game.id, world.member_id, key=key, now=clock.now()).play
    db.session.commit()
    return db.session.get(WalletItem, won.wallet_item_id)


def test_a_game_coupon_prize_takes_money_off_buy_now(world, client, auth, clock):
    coupon = _game_coupon(world, clock)
    auth.login("member@example.com")
    item = db.session.get(Item, world.item_id)
    plan = next(p for p in item.plans if p.kind == "points_cash")  # 500 points + ¥9.90
    response = client.post(f"/catalog/{item.id}/buy", data={"plan_id": plan.id, "quantity": 1, "key": "gc1",
                                                            "coupon": coupon.short_code})
    assert response.status_code == 302
    order = db.session.scalar(select(Order).where(Order.idempotency_key == "gc1"))
    assert order.cash_total_minor == 490


def test_a_game_coupon_prize_is_in_the_wallet_and_spent_at_the_till(world, client, auth, clock):
    coupon = _game_coupon(world, clock)
    assert (coupon.source, coupon.account_id, coupon.state) == ("game", world.member_id, "available")
    assert "Game ¥5 off" in _wallet_page(client, auth)
    client.post("/logout")

    assert _spend_at_till(client, world, "G-1", coupon.short_code) == 500
    assert [f.check for f in run_audit() if f.violations] == []


def _spend_at_till(client, world, receipt, code) -> int:
    """A purchase of ¥30 at the till, then the code spent on it through the POS API: the discount."""
    validator = OpenAPIValidator(client.get("/api/v1/openapi.json").get_json())
    headers = {"Authorization": f"Bearer {world.api_key}"}
    created = client.post("/api/v1/purchases", headers=headers,
                          json={"receipt_no": receipt, "amount_minor": 3_000, "lines": LINES})
    assert created.status_code == 201
    spent = client.post(f"/api/v1/purchases/{receipt}/coupons", headers=headers, json={"code": code})
    body = validator.check("/purchases/{receipt_no}/coupons", "POST", spent)
    assert spent.status_code == 201 and body["coupon"]["state"] == "used"
    return body["discount_minor"]


def test_a_claimed_red_packet_is_spent_at_the_till(world, client, clock):
    campaign = make_campaign(clock.now(), total_minor=500, min_minor=250, max_minor=250)
    got = claim(campaign.id, world.member_id, now=clock.now())
    db.session.commit()
    packet = db.session.get(WalletItem, got.wallet_item_id)
    assert _spend_at_till(client, world, "RP-1", packet.code) == 250
    assert [f.check for f in run_audit() if f.violations] == []


def test_a_claimed_red_packet_is_in_the_wallet_and_takes_money_off_buy_now(world, client, auth, clock):
    campaign = make_campaign(clock.now(), total_minor=500, min_minor=100, max_minor=100)
    got = claim(campaign.id, world.member_id, now=clock.now())
    db.session.commit()
    packet = db.session.get(WalletItem, got.wallet_item_id)
    page = _wallet_page(client, auth)
    assert packet.value_minor == 100 and f'/wallet/{packet.id}"' in page

    item = db.session.get(Item, world.item_id)
    plan = next(p for p in item.plans if p.kind == "points_cash")  # 500 points + ¥9.90
    response = client.post(f"/catalog/{item.id}/buy", data={"plan_id": plan.id, "quantity": 1, "key": "rp1",
                                                            "coupon": packet.short_code})
    assert response.status_code == 302
    order = db.session.scalar(select(Order).where(Order.idempotency_key == "rp1"))
    assert order.cash_total_minor == 890
    db.session.expire_all()
    used = db.session.get(WalletItem, packet.id)
    assert (used.state, used.order_id, used.discount_minor) == ("used", order.id, 100)


def test_a_coupon_order_page_says_added_to_your_wallet_and_links_to_the_coupon(world, client, auth, clock):
    voucher = make_item(clock.now(), name="¥10 voucher", points=300, stock=5, kind="coupon")
    make_spec(clock.now(), kind="amount", value_minor=1_000, name="Ten off", item_id=voucher.id)
    db.session.commit()
    auth.login("member@example.com")
    response = client.post(f"/catalog/{voucher.id}/buy", data={"plan_id": voucher.plans[0].id, "quantity": 1,
                                                                "key": "v1"})
    assert response.status_code == 302
    order = db.session.scalar(select(Order).where(Order.idempotency_key == "v1"))
    coupon = db.session.scalar(select(WalletItem).where(WalletItem.source_ref == f"order:{order.id}"))
    page = client.get(f"/orders/{order.id}").get_data(as_text=True)
    assert order.status == "fulfilled" and "Added to your wallet" in page and f'href="/wallet/{coupon.id}"' in page
    assert "Ten off" in client.get("/wallet").get_data(as_text=True)


def test_a_game_item_prize_must_be_goods_so_a_coupon_is_never_sent_for_pickup(world, clock):
    from mall.errors import DomainError
    voucher = make_item(clock.now(), points=300, kind="coupon")
    game = make_game(clock.now(), open_it=False, prizes=[("nothing", THANKS, 1, None, None)])
    with pytest.raises(DomainError, match="goods picked up at a store"):
        management.add_prize(game.id, PrizeData(kind="item", label="Voucher", weight=1, item_id=voucher.id,
                                                cost_points=300), actor_id=None, now=clock.now())


@pytest.mark.parametrize("kind", ["coupon", "red_packet"])
def test_a_reward_without_its_terms_is_refused_at_checkout_and_nothing_is_charged(world, client, auth, clock, kind):
    """An item published before the console required its coupon (an older import) would take
    the member's points and put nothing in the wallet."""
    from mall.points.models import PointsAccount
    voucher = make_item(clock.now(), name="Old voucher", points=300, stock=5, kind=kind)
    db.session.commit()
    auth.login("member@example.com")
    member_id = world.member_id
    balance = db.session.get(PointsAccount, member_id).balance
    response = client.post(f"/catalog/{voucher.id}/buy", data={"plan_id": voucher.plans[0].id, "quantity": 1,
                                                                "key": "old1"}, headers={"HX-Request": "true"})
    assert response.status_code == 422
    assert "its terms are not set. Nothing was charged." in response.get_data(as_text=True)
    db.session.remove()
    assert db.session.scalar(select(Order).where(Order.idempotency_key == "old1")) is None
    assert db.session.get(PointsAccount, member_id).balance == balance
