"""The demo as README describes it: the store vouchers are real coupons for the wallet, the
Gold member's two pickup orders are goods, and HQ's dashboard on the demo adds up and says
why its last 30 days redeem more points than they issue."""
from sqlalchemy import select

from mall.accounts.services import find_by_identifier
from mall.catalog.models import Item
from mall.checkout.models import Order
from mall.checkout.orders import place_order
from mall.checkout.quotes import LineRequest
from mall.demo import load_demo
from mall.extensions import db
from mall.hq import analytics
from mall.hq.views import dashboard_labels
from mall.points.models import PointsAccount
from mall.wallet.models import CouponSpec, WalletItem


def _item(sku):
    return db.session.scalar(select(Item).where(Item.sku == sku))


def test_demo_store_vouchers_are_coupons_that_land_in_the_wallet(app, clock):
    load_demo(clock.now())
    db.session.commit()
    for sku, value in (("VOU-01", 1_000), ("VOU-02", 5_000), ("VOU-04", 20_000), ("VOU-05", 1_000)):
        spec = db.session.scalar(select(CouponSpec).where(CouponSpec.item_id == _item(sku).id))
        assert _item(sku).kind == "coupon" and spec.value_minor == value, sku
    assert _item("VOU-03").kind == "goods"  # a free coffee, handed over at the counter
    silver = find_by_identifier("silver@example.com")
    voucher = _item("VOU-01")
    order = place_order(silver.id, [LineRequest(voucher.id, voucher.plans[0].id, 1)], key="try-voucher",
                        now=clock.now(), hold_minutes=10, card_payments=False, points_per_unit=100)
    db.session.commit()
    assert order.status == "fulfilled"
    coupon = db.session.scalar(select(WalletItem).where(WalletItem.account_id == silver.id,
                                                        WalletItem.source_ref == f"order:{order.id}"))
    assert (coupon.name, coupon.kind, coupon.value_minor, coupon.state) == ("¥10 store voucher", "amount", 1_000,
                                                                            "available")


def test_demo_gold_member_has_two_goods_orders_waiting_and_the_readme_balance(app, clock):
    load_demo(clock.now())
    db.session.commit()
    gold = find_by_identifier("13800000002")
    orders = db.session.scalars(select(Order).where(Order.member_id == gold.id)).all()
    assert [(o.status, o.kind) for o in orders] == [("ready", "goods"), ("ready", "goods")]
    account = db.session.get(PointsAccount, gold.id)
    assert account.balance - account.pending == 641  # README: "641 points"


def test_demo_dashboard_adds_up_and_explains_a_30_day_ratio_above_100(app, clock):
    load_demo(clock.now())
    db.session.commit()
    with app.test_request_context():
        labels = dashboard_labels()
        month = analytics.dashboard(analytics.make_filters(clock.now(), period="30d"), clock.now(), labels)
        ever = analytics.dashboard(analytics.make_filters(clock.now(), period="all"), clock.now(), labels)
    assert month.redemption_rate_pct > 100
    assert month.redeemed_before_period == month.redeemed - month.issued > 0
    assert ever.redemption_rate_pct < 100 and ever.redeemed_before_period == 0
    assert ever.issued - ever.taken_back - ever.redeemed - ever.expired == ever.outstanding
    for board in (month, ever):
        for chart in ("store", "region", "category", "rule"):
            assert sum(row[1] for row in board.charts[chart].rows) == board.issued, chart


def test_demo_new_account_buying_two_50_yuan_vouchers_is_reviewed_then_gets_them_in_the_wallet(app, clock, client,
                                                                                              auth):
    """What e2e/test_hq.py does on the demo: a new account redeems 10,000 points for two ¥50
    store vouchers, HQ approves the held order, and the coupons land in the wallet."""
    from mall.accounts import services as accounts
    from mall.risk.models import RiskReview
    from mall.risk.services import decide_review
    from tests.factories import PASSWORD, give_points
    load_demo(clock.now())
    member = accounts.register("fresh-member@example.com", PASSWORD, "New Member", now=clock.now())
    give_points(member.id, 10_000, clock.now())
    db.session.commit()
    voucher = _item("VOU-02")
    auth.login("fresh-member@example.com")
    assert client.post(f"/catalog/{voucher.id}/buy", data={"plan_id": voucher.plans[0].id, "quantity": 2,
                                                             "key": "two-fifties"}).status_code == 302
    order = db.session.scalar(select(Order).where(Order.idempotency_key == "two-fifties"))
    assert order.status == "in_review"
    review = db.session.scalar(select(RiskReview).where(RiskReview.order_id == order.id))
    decide_review(review.id, approve=True, actor_id=find_by_identifier("hq@example.com").id, reason="genuine",
                  now=clock.now(), hold_minutes=10)
    db.session.commit()
    assert "Added to your wallet" in client.get(f"/orders/{order.id}").get_data(as_text=True)
    coupons = db.session.scalars(select(WalletItem).where(WalletItem.source_ref == f"order:{order.id}")).all()
    assert [(c.name, c.value_minor) for c in coupons] == [("¥50 store voucher", 5_000)] * 2
