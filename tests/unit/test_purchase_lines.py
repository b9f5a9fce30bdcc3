"""Purchases with lines (issue 12): the till sends its receipt lines, the earning rules apply
per line (a fresh-food morning doubles the fresh line only), a refund of some lines gives
back their points by the one rounding rule, and HQ sees earning and redemption by category."""
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from mall.audit import run_audit
from mall.engagement.rulebook import RuleDraft, save_rule
from mall.extensions import db
from mall.instore import purchases
from mall.instore.categories import save_purchase_category
from mall.instore.models import Clawback, Purchase
from mall.points.explain import explain
from mall.points.ledger import spend_points
from mall.points.models import LedgerEntry
from mall.points.statement import account_balance
from mall.proportion import portion, split
from tests.instore_world import make_lined_world, pos_api

# 2026-06-03 is a Wednesday; Shanghai is UTC+8.
WED_10 = datetime(2026, 6, 3, 2, 0, tzinfo=timezone.utc)    # 10:00 shop time
WED_13 = datetime(2026, 6, 3, 5, 0, tzinfo=timezone.utc)    # 13:00 shop time


@pytest.fixture
def world(app, clock):
    return make_lined_world(clock.now())


@pytest.fixture
def api(client, world):
    return pos_api(client, world.api_key)


def _fresh_morning(clock):
    save_rule(RuleDraft(kind="time_slot", name="Fresh morning", name_zh="生鲜早市", value=200, weekdays=(3,),
                        minute_from=8 * 60, minute_to=12 * 60, category_slug="fresh"),
              actor_id=None, now=WED_10 - timedelta(days=7))
    db.session.commit()


LINES = [{"sku": "VEG-001", "name": "Bok choy", "category": "fresh", "quantity": 2, "amount_minor": 8_600},
         {"sku": "KIT-204", "name": "Wok", "category": "kitchen", "quantity": 1, "amount_minor": 20_000}]


def _earn(api, world, receipt, lines=LINES, amount=None):
    return api.call("POST", "/purchases", json={
        "receipt_no": receipt, "amount_minor": amount or sum(l["amount_minor"] for l in lines),
        "member": {"member_code": world.member_code}, "lines": lines})


@pytest.mark.parametrize("at, fresh_points, total", [(WED_10, 172, 372), (WED_13, 86, 286)],
                         ids=["Wednesday 10:00: fresh ×2", "Wednesday 13:00: no bonus"])
def test_a_fresh_morning_rule_doubles_the_fresh_line_only_and_only_in_its_hours(api, world, clock, at, fresh_points,
                                                                                total):
    _fresh_morning(clock)
    clock.set(at)
    response = _earn(api, world, "T3-000200")
    assert response.status_code == 201, api.body
    lines = {l["sku"]: l for l in api.body["lines"]}
    assert (lines["VEG-001"]["points"], lines["KIT-204"]["points"]) == (fresh_points, 200)
    assert api.body["points"] == total
    entry = db.session.scalars(select(LedgerEntry).where(LedgerEntry.member_id == world.member_id,
                                                         LedgerEntry.reason == "purchase")).one()
    assert entry.points == total  # one entry for the purchase; each line's part frozen in its detail
    if at == WED_10:
        assert explain(entry) == (
            "Purchase of ¥286 (receipt T3-000200): ¥86 of Fresh food: base 86 × Silver tier 1 × Fresh morning 2 "
            "= 172; ¥200 of Kitchen: base 200 × Silver tier 1 = 200; total 372 points")
    else:
        assert explain(entry) == "Purchase of ¥286 (receipt T3-000200): base 286 × Silver tier 1 = 286 points"


def test_lines_must_add_up_to_the_amount_and_name_known_categories(api, world, clock):
    assert _earn(api, world, "T3-000201", amount=30_000).status_code == 400
    assert api.body["error"]["code"] == "invalid_lines"
    assert _earn(api, world, "T3-000202", lines=[{"amount_minor": 500, "category": "nope"}]).status_code == 400
    assert api.body["error"]["code"] == "invalid_lines"
    assert db.session.scalar(select(Purchase.id)) is None


def test_a_purchase_without_lines_is_one_line_of_the_default_category(api, world, clock):
    api.call("POST", "/purchases", json={"receipt_no": "T3-000203", "amount_minor": 12_800,
                                         "member": {"member_code": world.member_code}})
    assert api.body["points"] == 128
    assert api.body["lines"] == [{"line_no": 1, "sku": "", "name": "", "category": "", "quantity": 1,
                                  "amount_minor": 12_800, "excluded": False, "points": 128,
                                  "refunded_quantity": 0, "refunded_points": 0}]


def test_excluded_lines_earn_nothing(api, world, clock):
    save_purchase_category("gift-cards", "Gift cards", name_zh="礼品卡", excluded=True)
    db.session.commit()
    _earn(api, world, "T3-000204", lines=[{"sku": "GC-100", "category": "gift-cards", "amount_minor": 10_000},
                                          {"sku": "TOB-1", "category": "kitchen", "amount_minor": 3_000,
                                           "excluded": True},
                                          {"sku": "KIT-9", "category": "kitchen", "amount_minor": 5_000}])
    assert [l["points"] for l in api.body["lines"]] == [0, 0, 50] and api.body["points"] == 50


LINES3 = [{"sku": "VEG-001", "name": "Bok choy", "category": "fresh", "quantity": 3, "amount_minor": 10_000},
          {"sku": "KIT-204", "name": "Wok", "category": "kitchen", "quantity": 1, "amount_minor": 20_000},
          {"sku": "KIT-310", "name": "Spatula", "category": "kitchen", "quantity": 1, "amount_minor": 3_300}]


def test_refunding_one_line_of_three_gives_back_its_points_by_the_rounding_rule(api, world, clock):
    _fresh_morning(clock)
    clock.set(WED_10)
    _earn(api, world, "T3-000300", lines=LINES3)
    # fresh: base 100 × 2 = 200 over 3 units; kitchen: base 233 split over 20,000 and 3,300 by amount
    assert [l["points"] for l in api.body["lines"]] == [200, split(233, [20_000, 3_300])[0], 233 - 200]
    assert api.body["points"] == 433
    before = account_balance(world.member_id)

    # one of the three bok choy: 200 × 1 ÷ 3 = 66.67, rounded down to 66
    api.call("POST", "/purchases/T3-000300/refund", "/purchases/{receipt_no}/refund",
             json={"refund_no": "RF-1", "lines": [{"line_no": 1, "quantity": 1}]})
    assert (api.body["reversed_points"], api.body["clawback_points"]) == (66, 0)
    assert api.body["refunded_amount_minor"] == 3_333
    assert account_balance(world.member_id) == before - 66
    # the till retries: nothing more
    api.call("POST", "/purchases/T3-000300/refund", "/purchases/{receipt_no}/refund",
             json={"refund_no": "RF-1", "lines": [{"line_no": 1, "quantity": 1}]})
    assert api.body["reversed_points"] == 66 and account_balance(world.member_id) == before - 66
    # the other two: the rest of the line, 134, so the line gives back exactly its 200
    api.call("POST", "/purchases/T3-000300/refund", "/purchases/{receipt_no}/refund",
             json={"refund_no": "RF-2", "lines": [{"line_no": 1}]})
    assert api.body["reversed_points"] == 134
    line = api.body["purchase"]["lines"][0]
    assert (line["refunded_quantity"], line["refunded_points"]) == (3, 200)
    assert api.body["purchase"]["status"] == "claimed"  # the kitchen lines are still held
    # the rest of the purchase, in full
    api.call("POST", "/purchases/T3-000300/refund", "/purchases/{receipt_no}/refund")
    assert api.body["reversed_points"] == 233 and api.body["purchase"]["status"] == "refunded"
    assert account_balance(world.member_id) == before - 433
    assert [f for f in run_audit() if f.violations] == []


def test_a_partial_refund_claws_back_only_points_already_spent(api, world, clock):
    clock.set(WED_10)
    _earn(api, world, "T3-000301", lines=LINES3)  # 100 + 200 + 33 = 333 points
    spend_points(world.member_id, account_balance(world.member_id) - 50, reason="redeem", source="test",
                 key="spend-all", now=clock.now())
    db.session.commit()
    api.call("POST", "/purchases/T3-000301/refund", "/purchases/{receipt_no}/refund",
             json={"refund_no": "RF-9", "lines": [{"line_no": 2}]})
    assert (api.body["reversed_points"], api.body["clawback_points"]) == (50, 150)
    assert account_balance(world.member_id) == 0
    claw = db.session.scalars(select(Clawback)).one()
    assert claw.points == 150
    # a second partial refund owing more adds to the same clawback
    api.call("POST", "/purchases/T3-000301/refund", "/purchases/{receipt_no}/refund",
             json={"refund_no": "RF-10", "lines": [{"line_no": 3}]})
    assert (api.body["reversed_points"], api.body["clawback_points"]) == (0, 33)
    db.session.expire_all()
    assert db.session.scalars(select(Clawback)).one().points == 183
    assert [f for f in run_audit() if f.violations] == []


def test_a_partial_refund_is_refused_without_a_refund_number_or_beyond_what_is_left(api, world, clock):
    _earn(api, world, "T3-000302", lines=LINES3)
    for body in ({"lines": [{"line_no": 1}]}, {"refund_no": "RF-1", "lines": [{"line_no": 1, "quantity": 4}]},
                 {"refund_no": "RF-1", "lines": [{"line_no": 9}]}):
        response = api.call("POST", "/purchases/T3-000302/refund", "/purchases/{receipt_no}/refund", json=body)
        assert response.status_code == 400 and api.body["error"]["code"] == "invalid_lines"
    assert api.body["error"]["field"] == "lines"


def test_the_rounding_rule_adds_up_and_never_rounds_a_part_up():
    assert split(200, [1, 1, 1]) == [66, 67, 67]
    assert sum(split(433, [7, 13, 29, 1])) == 433
    assert portion(200, 3, 3) == 200 and portion(200, 1, 3) == 66


def test_the_dashboard_category_filter_shows_earning_and_redemption_for_a_category(app, api, world, clock):
    from mall.hq import analytics
    from mall.hq.views import dashboard_labels
    from tests.factories import give_points, make_item, make_user
    from tests.instore_world import ready_order
    clock.set(WED_10)
    _earn(api, world, "T3-000400")  # fresh 86 + kitchen 200 points, one entry
    shopper = make_user(clock.now(), login="shopper@example.com")
    give_points(shopper.id, 2_000, clock.now())
    ready_order(shopper.id, make_item(clock.now(), points=700, category="kitchen"), clock.now(), key="k1")
    ready_order(shopper.id, make_item(clock.now(), points=300, category="fresh"), clock.now(), key="f1")
    db.session.commit()

    def board(category, days_later=0):
        at = clock.now() + timedelta(days=days_later)
        with app.test_request_context():
            return analytics.dashboard(analytics.make_filters(at, period="30d", category=category), at,
                                       dashboard_labels())
    for days_later in (0, 2):  # the live day, then the same day rolled up
        kitchen, fresh = board("kitchen", days_later), board("fresh", days_later)
        assert (kitchen.issued, kitchen.redeemed) == (200, 700)
        assert (fresh.issued, fresh.redeemed) == (86, 300)
        rows = {r[0]: r[1] for r in board(None, days_later).charts["category"].rows}
        assert rows["Kitchen"] == 200 and rows["Fresh food"] == 86  # instore_world's categories, by name


def test_a_partial_refund_inside_the_return_window_cancels_that_lines_pending_points_without_a_clawback(
        app, api, world, clock):
    from mall import settings
    from mall.points.statement import balance
    app.config["MALL_RETURN_WINDOW_DAYS"] = 7
    settings.reload(app)
    clock.set(WED_10)
    _earn(api, world, "T3-000500", lines=LINES3)  # 100 + 200 + 33 = 333 points, all pending
    assert balance(world.member_id, clock.now()).pending_points == 333
    api.call("POST", "/purchases/T3-000500/refund", "/purchases/{receipt_no}/refund",
             json={"refund_no": "RF-P1", "lines": [{"line_no": 2, "quantity": 1}]})
    assert (api.body["reversed_points"], api.body["clawback_points"]) == (portion(200, 1, LINES3[1]["quantity"]), 0)
    db.session.expire_all()
    assert balance(world.member_id, clock.now()).pending_points == 333 - api.body["reversed_points"]
    assert db.session.scalars(select(Clawback)).all() == []
    assert [f for f in run_audit() if f.violations] == []


def test_refunding_a_line_that_earned_nothing_still_takes_its_spend_off_the_tier_window(world, clock):
    """A gift card earns no points but counts as spend; its refund takes 0 points back and
    must still take the ¥5,000 off the tier window (a 0-point line carrying the spend)."""
    from mall.instore.codes import receipt_token
    from mall.instore.purchases import LineInput, RefundLine
    from mall.points.tiers import qualifying_spend

    save_purchase_category("gift-cards", "Gift cards", excluded=True)
    purchase, _ = purchases.create_purchase(world.store_id, "T3-000900", 501_000, now=clock.now(), code_hours=24,
                                            lines=[LineInput(500_000, category="gift-cards", name="Gift card"),
                                                   LineInput(1_000, category="fresh", name="Bok choy")])
    before = qualifying_spend(world.member_id, clock.now())
    purchases.claim_receipt(receipt_token(purchase.id), world.member_id, now=clock.now(), minor_per_point=100)
    assert qualifying_spend(world.member_id, clock.now()) == before + 501_000
    points = account_balance(world.member_id)

    refund = purchases.refund_purchase(world.store_id, "T3-000900", now=clock.now(), lines=[RefundLine(1)],
                                       refund_no="RF-9")
    db.session.commit()
    assert refund.reversed_points == 0
    assert qualifying_spend(world.member_id, clock.now()) == before + 1_000
    assert account_balance(world.member_id) == points  # the fresh line keeps its 10 points
    line = db.session.scalar(select(LedgerEntry).where(LedgerEntry.idempotency_key == f"purchase:{purchase.id}:RF-9"))
    assert (line.points, line.spend_minor) == (0, -500_000)
    assert "Part of a purchase refunded (receipt T3-000900" in explain(line)
    assert not [f for f in run_audit() if f.violations]
