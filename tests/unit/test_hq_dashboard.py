"""The HQ cost dashboard: figures match the ledger (rolled-up days plus the live day),
filters by store, region and category, HTMX fragment, CSV export, segments and ROI."""
import csv
import io
from datetime import timedelta

import pytest

from mall.extensions import db
from mall.hq import analytics, segments
from mall.instore.models import Store
from mall.engagement.earning import earn_for_purchase
from mall.points.ledger import credit_points, expire_due_points, spend_points
from tests.factories import make_user


@pytest.fixture
def world(tiers, clock):
    now = clock.now()
    north = Store(code="N1", name="North Store", region="North")
    south = Store(code="S1", name="South Store", region="South")
    db.session.add_all([north, south])
    db.session.flush()
    hq = make_user(now, role="hq", login="hq@example.com")
    alice, bob = make_user(now, login="alice@example.com"), make_user(now, login="bob@example.com")
    # Day 1: purchases at both stores, a campaign bonus (expiring soon), and bob spends.
    earn_for_purchase(alice.id, 30_000, minor_per_point=100, source="pos", key="a1", now=now, store_id=north.id)
    earn_for_purchase(bob.id, 10_000, minor_per_point=100, source="pos", key="b1", now=now, store_id=south.id)
    credit_points(alice.id, 50, reason="bonus", source="campaign", key="c1", now=now, store_id=north.id,
                  expires_at=now + timedelta(days=1), detail={"campaign": "spring", "category": "fresh"})
    spend_points(bob.id, 100, reason="redeem", source="order", key="o1", now=now)
    clock.advance(days=2)
    expire_due_points(clock.now())  # alice's 50 campaign points expire
    earn_for_purchase(bob.id, 5_000, minor_per_point=100, source="pos", key="b2", now=clock.now(), store_id=south.id)
    db.session.commit()
    return {"hq": hq, "north": north, "south": south, "alice": alice, "bob": bob}


def _board(clock, **filters):
    f = analytics.make_filters(clock.now(), period=filters.pop("period", "30d"), **filters)
    from mall.hq.views import dashboard_labels
    return analytics.dashboard(f, clock.now(), dashboard_labels())


def test_figures_match_the_ledger_across_rolled_and_live_days(app, world, clock):
    with app.test_request_context():
        board = _board(clock)
    assert (board.issued, board.redeemed, board.expired) == (300 + 100 + 50 + 50, 100, 50)
    assert board.outstanding == 500 - 100 - 50
    assert board.liability_minor == 350  # 1 point = 1 fen by default
    assert board.redemption_rate_pct == 20.0 and board.breakage_pct == 10.0
    stores = {row[0]: row[1] for row in board.charts["store"].rows}
    assert stores == {"North Store": 350, "South Store": 150}
    assert {r[0]: r[1] for r in board.charts["rule"].rows} == {"Points for purchases": 450, "spring": 50}
    # Closed days came from the rollup, today from the ledger: the same figures again.
    assert analytics.roll_up(clock.now()) == analytics.local_day(clock.now()) - timedelta(days=1)
    with app.test_request_context():
        assert _board(clock).issued == 500


def test_filters_narrow_by_store_region_and_category(app, world, clock):
    with app.test_request_context():
        assert _board(clock, store_id=world["south"].id).issued == 150
        assert _board(clock, region="North").issued == 350
        assert _board(clock, category="fresh").issued == 50


def test_dashboard_page_fragment_and_csv(client, auth, world):
    auth.login("hq@example.com")
    page = client.get("/hq")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "chart-4.6.1.umd.min.js" in html and "data-load-scripts" in html and "<table" in html and "data-chart=" in html
    fragment = client.get(f"/hq?store={world['north'].id}", headers={"HX-Request": "true"})
    body = fragment.get_data(as_text=True)
    assert "<h1>" not in body and "North Store" in body and "South Store" not in body.split("Cost by store")[1].split("</table>")[0]
    export = client.get("/hq/export/store.csv?period=30d")
    assert export.status_code == 200 and export.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(export.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == ["Store", "Points issued", "Cost"] and ["North Store", "350", "3.50"] in rows
    assert client.get("/hq/export/nothing.csv").status_code == 404


def test_rfm_segments_are_counted_and_drillable(client, auth, world, clock):
    now = clock.now()
    loyal = make_user(now, login="loyal@example.com")
    for n in range(6):
        earn_for_purchase(loyal.id, 40_000, minor_per_point=100, source="pos", key=f"l{n}", now=now - timedelta(days=n))
    dormant = make_user(now, login="dormant@example.com")
    earn_for_purchase(dormant.id, 1_000, minor_per_point=100, source="pos", key="d1", now=now - timedelta(days=200))
    counts = segments.refresh_segments(now)
    db.session.commit()
    assert counts == {"loyal": 1, "potential": 2, "dormant": 1, "ordinary": 0}
    auth.login("hq@example.com")
    page = client.get("/hq/segments/loyal").get_data(as_text=True)
    assert "loyal@example.com" not in page and loyal.member_code in page
    assert client.get("/hq/segments/nobody").status_code == 404


def test_the_roi_table_names_reasons_in_the_readers_language(client, auth, world, clock):
    segments.refresh_roi(clock.now())
    db.session.commit()
    auth.login("hq@example.com")
    zh = client.get("/hq/segments", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    en = client.get("/hq/segments", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert '<th scope="row">消费积分</th>' in zh and '<th scope="row">Points for purchases</th>' in en
    assert '<th scope="row">spring</th>' in zh  # a rule no earning rule names: as the ledger says


def test_roi_counts_direct_and_repeat_sales(app, world, clock):
    now = clock.now()
    segments.refresh_roi(now)
    table = {r["rule"]: r for r in segments.roi_table()}
    # bob redeemed on day 1 and bought again on day 3: a repeat sale for the purchase rule.
    assert table["purchase"]["direct_minor"] == 45_000 and table["purchase"]["repeat_minor"] == 5_000
    # alice (the spring campaign's member) has not redeemed: no repeat sales yet.
    assert table["spring"]["cost_minor"] == 50 and table["spring"]["direct_minor"] == 0
    assert table["spring"]["repeat_minor"] == 0
    spend_points(world["alice"].id, 10, reason="redeem", source="order", key="o2", now=now)
    clock.advance(hours=1)
    earn_for_purchase(world["alice"].id, 20_000, minor_per_point=100, source="pos", key="a-again", now=clock.now())
    segments.refresh_roi(clock.now())
    table = {r["rule"]: r for r in segments.roi_table()}
    assert table["spring"]["repeat_minor"] == 20_000 and table["purchase"]["repeat_minor"] == 25_000
    assert table["spring"]["roi_pct"] == round((20_000 - 50) * 100 / 50, 1)
