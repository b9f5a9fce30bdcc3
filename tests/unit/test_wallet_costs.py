"""Coupons and red packets on the HQ dashboard (issue 13): issued, claimed, used, expired and
outstanding value by store, region, campaign and kind; the outstanding value is in the
liability; charts export as CSV."""
import csv
import io

import pytest

from mall.checkout.orders import place_order
from mall.checkout.quotes import LineRequest
from mall.extensions import db
from mall.hq import analytics
from mall.hq.views import dashboard_labels
from mall.hq.wallet_costs import wallet_costs
from mall.instore.models import Store
from mall.redpackets.claims import claim
from mall.wallet.issue import issue_red_packet
from tests.factories import give_points, make_item, make_user
from tests.redpacket_world import make_campaign


@pytest.fixture
def world(tiers, clock):
    now = clock.now()
    north = Store(code="N1", name="North Store", region="North")
    db.session.add(north)
    db.session.flush()
    make_user(now, role="hq", login="hq@example.com")
    members = [make_user(now) for _ in range(3)]
    store_campaign = make_campaign(now, name="North packets", store_id=north.id, total_minor=1_000,
                                   min_minor=200, max_minor=200)
    hq_campaign = make_campaign(now, name="HQ packets", total_minor=900, min_minor=300, max_minor=300)
    for m in members[:2]:
        claim(store_campaign.id, m.id, now=now)          # 2 × ¥2 at North
    spent = claim(hq_campaign.id, members[2].id, now=now)  # ¥3 from HQ, spent below
    # A red packet outside any campaign, valid one day: it expires unused.
    issue_red_packet(members[0].id, 50, source="hq", source_ref="gift", valid_days=1, now=now)
    give_points(members[2].id, 1_000, now)
    item = make_item(now, points=100)
    order = place_order(members[2].id, [LineRequest(item.id, item.plans[0].id, 1)], key="o", now=now,
                        hold_minutes=10, card_payments=False, points_per_unit=100)
    from mall.wallet.models import WalletItem
    used = db.session.get(WalletItem, spent.wallet_item_id)
    used.state, used.used_at, used.discount_minor, used.order_id = "used", now, 300, order.id
    clock.advance(days=2)
    db.session.commit()
    return {"north": north}


def _costs(app, clock, **filters):
    f = analytics.make_filters(clock.now(), period="30d", **filters)
    with app.test_request_context():
        return wallet_costs(f, clock.now(), dashboard_labels())


def test_issued_claimed_used_expired_and_outstanding_values(app, world, clock):
    costs = _costs(app, clock)
    assert costs.issued_minor == 200 + 200 + 300 + 50
    assert (costs.claimed_minor, costs.claimed_count) == (700, 3)
    assert costs.used_minor == 300
    assert costs.expired_minor == 50
    assert (costs.outstanding_minor, costs.outstanding_count) == (400, 2)
    assert costs.unclaimed_budget_minor == 600 + 600  # 3 of 5 and 2 of 3 packets left


def test_figures_by_store_region_campaign_and_kind(app, world, clock):
    charts = _costs(app, clock).charts
    assert ["North Store", 400, 0, 0] in charts["wallet_store"].rows
    assert ["North", 400, 0, 0] in charts["wallet_region"].rows
    assert ["North packets", 400, 0, 0] in charts["wallet_campaign"].rows
    assert ["HQ packets", 300, 300, 0] in charts["wallet_campaign"].rows
    assert charts["wallet_kind"].rows == [["Red packets", 750, 300, 50]]
    assert charts["wallet_trend"].chart_data()["series"][0]["label"] == "Issued"


def test_a_store_filter_keeps_only_that_stores_items(app, world, clock):
    costs = _costs(app, clock, store_id=world["north"].id)
    assert (costs.issued_minor, costs.claimed_minor) == (400, 400)


def test_the_liability_includes_what_wallets_still_hold_and_charts_export_as_csv(client, auth, world):
    auth.login("hq@example.com")
    page = client.get("/hq").get_data(as_text=True)
    assert "Coupons and red packets" in page and "Red packets claimed" in page
    exported = client.get("/hq/export/wallet_store.csv").get_data(as_text=True).lstrip("\ufeff")
    rows = list(csv.reader(io.StringIO(exported)))
    assert rows[1] == ["North Store", "4.00", "0.00", "0.00"]


def test_by_category_a_coupon_counts_under_its_own_first_category_and_red_packets_under_none(app, world, clock):
    from mall.wallet.issue import issue
    from tests.wallet_world import make_spec
    member = make_user(clock.now())
    fresh = make_spec(clock.now(), kind="amount", value_minor=500, name="Fresh ¥5", categories=("fresh",))
    issue(member.id, fresh, source="hq", source_ref="cat-test", now=clock.now())
    db.session.commit()
    rows = _costs(app, clock).charts["wallet_category"].rows
    assert ["Fresh", 500, 0, 0] in rows
    assert [r for r in rows if r[0] != "Fresh"] == [[_no_category_label(app), 750, 300, 50]]


def _no_category_label(app):
    with app.test_request_context():
        return dashboard_labels()["no_category"]
