"""Coupons at the till through the POS API (issue 13): a 满减 coupon checked and spent
against a purchase whose lines qualify and one whose lines don't, spent once per receipt,
refused with a message once expired, and given back by a full refund."""

import pytest

from mall.audit import run_audit
from mall.extensions import db
from mall.wallet.issue import issue
from mall.wallet.models import WalletItem
from tests.instore_world import make_lined_world, pos_api
from tests.wallet_world import make_spec

# Spend ¥100 on fresh food, save ¥20.
FRESH = [{"sku": "VEG-1", "name": "Bok choy", "category": "fresh", "quantity": 4, "amount_minor": 8_000},
         {"sku": "MEAT-1", "name": "Pork", "category": "fresh", "quantity": 1, "amount_minor": 4_000},
         {"sku": "KIT-1", "name": "Wok", "category": "kitchen", "quantity": 1, "amount_minor": 20_000}]
MOSTLY_KITCHEN = [{"sku": "VEG-1", "name": "Bok choy", "category": "fresh", "quantity": 1, "amount_minor": 2_000},
                  {"sku": "KIT-1", "name": "Wok", "category": "kitchen", "quantity": 1, "amount_minor": 30_000}]


@pytest.fixture
def world(app, clock):
    return make_lined_world(clock.now())


@pytest.fixture
def api(client, world):
    return pos_api(client, world.api_key)


@pytest.fixture
def coupon(world, clock):
    spec = make_spec(clock.now(), categories=("fresh",))
    item = issue(world.member_id, spec, source="hq", source_ref="till-test", now=clock.now())
    db.session.commit()
    return item


def _purchase(api, receipt, lines):
    amount = sum(line["amount_minor"] for line in lines)
    assert api.call("POST", "/purchases", json={"receipt_no": receipt, "amount_minor": amount,
                                                "lines": lines}).status_code == 201


CHECK = "/purchases/{receipt_no}/coupons/check"
SPEND = "/purchases/{receipt_no}/coupons"


def test_threshold_coupon_applies_to_a_purchase_whose_eligible_lines_reach_the_threshold(api, coupon):
    _purchase(api, "R-100", FRESH)
    assert api.call("POST", "/purchases/R-100/coupons/check", CHECK, json={"code": coupon.code}).status_code == 200
    assert (api.body["usable"], api.body["discount_minor"]) == (True, 2_000)
    assert api.call("POST", "/purchases/R-100/coupons", SPEND, json={"code": coupon.short_code}).status_code == 201
    assert api.body["discount_minor"] == 2_000 and api.body["coupon"]["state"] == "used"
    # The same receipt and code again: the first answer, nothing spent twice.
    assert api.call("POST", "/purchases/R-100/coupons", SPEND, json={"code": coupon.code}).status_code == 200
    assert api.body["discount_minor"] == 2_000
    db.session.expire_all()
    item = db.session.get(WalletItem, coupon.id)
    assert (item.state, item.discount_minor) == ("used", 2_000) and item.redeemed_store_id is not None


def test_threshold_coupon_is_refused_when_only_other_categories_reach_the_threshold(api, coupon):
    _purchase(api, "R-200", MOSTLY_KITCHEN)  # ¥320 in all, but only ¥20 of fresh food
    assert api.call("POST", "/purchases/R-200/coupons/check", CHECK, json={"code": coupon.code}).status_code == 200
    assert (api.body["usable"], api.body["reason"]) == (False, "below_threshold")
    assert "¥100" in api.body["message"] and "¥20" in api.body["message"]
    assert api.call("POST", "/purchases/R-200/coupons", SPEND, json={"code": coupon.code}).status_code == 409
    assert api.body["error"]["code"] == "coupon_refused"
    assert api.body["error"]["details"]["reason"] == "below_threshold"
    db.session.expire_all()
    assert db.session.get(WalletItem, coupon.id).state == "available"


def test_a_used_coupon_is_refused_on_another_receipt(api, coupon):
    _purchase(api, "R-1", FRESH)
    _purchase(api, "R-2", FRESH)
    assert api.call("POST", "/purchases/R-1/coupons", SPEND, json={"code": coupon.code}).status_code == 201
    assert api.call("POST", "/purchases/R-2/coupons", SPEND, json={"code": coupon.code}).status_code == 409
    assert api.body["error"]["details"]["reason"] == "used"


def test_an_expired_coupon_is_refused_with_a_message(api, coupon, clock):
    _purchase(api, "R-300", FRESH)
    clock.advance(days=31)
    # (The check answers 200: the API key's daily last-used touch is written by a success.)
    assert api.call("POST", "/purchases/R-300/coupons/check", CHECK, json={"code": coupon.code}).status_code == 200
    assert (api.body["usable"], api.body["reason"]) == (False, "expired")
    assert api.call("POST", "/purchases/R-300/coupons", SPEND, json={"code": coupon.code}).status_code == 409
    assert api.body["error"]["details"]["reason"] == "expired"
    assert api.body["error"]["message"].startswith("This coupon expired on")


def test_a_refunded_purchase_gives_its_coupon_back(api, coupon):
    _purchase(api, "R-400", FRESH)
    assert api.call("POST", "/purchases/R-400/coupons", SPEND, json={"code": coupon.code}).status_code == 201
    assert api.call("POST", "/purchases/R-400/refund", "/purchases/{receipt_no}/refund").status_code == 200
    db.session.expire_all()
    item = db.session.get(WalletItem, coupon.id)
    assert (item.state, item.purchase_id, item.times_returned) == ("available", None, 1)


def test_an_unknown_coupon_is_a_404(api):
    _purchase(api, "R-500", FRESH)
    assert api.call("POST", "/purchases/R-500/coupons", SPEND, json={"code": "NOPE2345"}).status_code == 404
    assert api.body["error"]["code"] == "coupon_not_found"


def test_the_wallet_audit_is_clean_after_spending_and_giving_back(api, coupon):
    _purchase(api, "R-600", FRESH)
    api.call("POST", "/purchases/R-600/coupons", SPEND, json={"code": coupon.code})
    assert [f.check for f in run_audit() if f.violations] == []
    api.call("POST", "/purchases/R-600/refund", "/purchases/{receipt_no}/refund")
    assert [f.check for f in run_audit() if f.violations] == []


def test_a_second_coupon_on_the_same_receipt_is_refused_unless_both_stack(api, world, coupon, clock):
    other = issue(world.member_id, make_spec(clock.now(), kind="amount", value_minor=500), source="game",
                  source_ref="second", now=clock.now())
    db.session.commit()
    _purchase(api, "R-700", FRESH)
    assert api.call("POST", "/purchases/R-700/coupons", SPEND, json={"code": coupon.code}).status_code == 201
    assert api.call("POST", "/purchases/R-700/coupons", SPEND, json={"code": other.code}).status_code == 409
    assert api.body["error"]["details"]["reason"] == "not_stackable"


def test_after_a_partial_refund_a_stacked_coupon_takes_off_only_what_the_first_left(api, world, clock):
    """The first coupon counts by what it took when spent (¥20 of ¥100), not priced again on
    the lines still open after a partial refund (¥50 at 20% would be ¥10)."""
    lines = [{"sku": "VEG-1", "name": "Bok choy", "category": "fresh", "quantity": 1, "amount_minor": 5_000},
             {"sku": "KIT-1", "name": "Wok", "category": "kitchen", "quantity": 1, "amount_minor": 5_000}]
    _purchase(api, "R-STACK", lines)
    twenty = issue(world.member_id, make_spec(clock.now(), kind="percent", percent=20, stacks_with="amount",
                                              name="20% off"), source="hq", source_ref="stack-1", now=clock.now())
    fifty = issue(world.member_id, make_spec(clock.now(), kind="amount", value_minor=5_000, stacks_with="percent",
                                             name="¥50 off"), source="hq", source_ref="stack-2", now=clock.now())
    db.session.commit()
    assert api.call("POST", "/purchases/R-STACK/coupons", SPEND, json={"code": twenty.code}).status_code == 201
    assert api.body["discount_minor"] == 2_000
    assert api.call("POST", "/purchases/R-STACK/refund", "/purchases/{receipt_no}/refund",
                    json={"refund_no": "RF-STACK", "lines": [{"line_no": 2, "quantity": 1}]}).status_code == 200
    assert api.call("POST", "/purchases/R-STACK/coupons", SPEND, json={"code": fifty.code}).status_code == 201
    assert api.body["discount_minor"] == 3_000  # ¥50 open − the ¥20 already taken
    assert [f.check for f in run_audit() if f.violations] == []
