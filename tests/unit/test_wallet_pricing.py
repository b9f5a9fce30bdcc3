"""The one discount function (mall/wallet/pricing.py): eligible categories, 满减 thresholds,
percent with a cap, amounts capped at the eligible subtotal, free delivery, refusals and
stacking. Pure: plain objects stand in for wallet items."""
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import pytest

from mall.wallet.pricing import Line, discount_for, discounts_for

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=timezone.utc)
FRESH, KITCHEN = 1, 2


@dataclass
class Item:
    kind: str = "threshold"
    threshold_minor: int = 0
    value_minor: int | None = None
    percent: int | None = None
    cap_minor: int | None = None
    category_ids: list = field(default_factory=list)
    stacks_with: str = ""
    store_id: int | None = None
    state: str = "available"
    valid_from: datetime | None = None
    expires_at: datetime = NOW + timedelta(days=10)
    id: int = 1


LINES = [Line(8_000, FRESH, "fresh"), Line(4_000, FRESH, "fresh"), Line(20_000, KITCHEN, "kitchen")]


def test_threshold_counts_only_eligible_lines(app):
    coupon = Item(threshold_minor=10_000, value_minor=2_000, category_ids=[FRESH])
    assert discount_for(coupon, LINES, NOW).discount_minor == 2_000
    short = discount_for(coupon, LINES[1:], NOW)
    assert (short.ok, short.refusal, short.detail) == (False, "below_threshold", (10_000, 4_000))


def test_till_lines_match_eligible_categories_by_slug(app):
    coupon = Item(threshold_minor=10_000, value_minor=2_000, category_ids=[FRESH])
    till = [Line(12_000, None, "fresh")]
    assert discount_for(coupon, till, NOW, category_slugs={FRESH: "fresh"}).discount_minor == 2_000
    assert discount_for(coupon, till, NOW).refusal == "not_eligible"  # no slug map: nothing matches


@pytest.mark.parametrize("percent,cap,expected", [(10, None, 3_200), (10, 1_000, 1_000), (15, 5_000, 4_800)])
def test_percent_rounds_down_and_stops_at_the_cap(app, percent, cap, expected):
    assert discount_for(Item(kind="percent", percent=percent, cap_minor=cap), LINES, NOW).discount_minor == expected


def test_percent_of_odd_fen_rounds_down(app):
    assert discount_for(Item(kind="percent", percent=15), [Line(999)], NOW).discount_minor == 149


def test_an_amount_never_exceeds_the_eligible_subtotal(app):
    assert discount_for(Item(kind="amount", value_minor=5_000, category_ids=[FRESH]), LINES[1:2], NOW) \
        .discount_minor == 4_000
    assert discount_for(Item(kind="red_packet", value_minor=368), LINES, NOW).discount_minor == 368


def test_free_delivery_waives_the_fee_and_is_refused_without_one(app):
    coupon = Item(kind="free_delivery")
    assert (discount_for(coupon, LINES, NOW, delivery_minor=800).discount_minor,
            discount_for(coupon, LINES, NOW, delivery_minor=800).free_delivery) == (800, True)
    assert discount_for(coupon, LINES, NOW).refusal == "nothing_to_waive"


@pytest.mark.parametrize("item,refusal", [
    (Item(kind="amount", value_minor=100, state="used"), "used"),
    (Item(kind="amount", value_minor=100, state="cancelled"), "cancelled"),
    (Item(kind="amount", value_minor=100, expires_at=NOW), "expired"),
    (Item(kind="amount", value_minor=100, valid_from=NOW + timedelta(days=1)), "not_yet_valid"),
    (Item(kind="amount", value_minor=100, store_id=7), "other_store"),
])
def test_refusals_that_do_not_depend_on_the_lines(app, item, refusal):
    assert discount_for(item, LINES, NOW, store_id=3).refusal == refusal


def test_an_expired_coupon_says_when_it_expired(app):
    with app.test_request_context():
        message = discount_for(Item(kind="amount", value_minor=100, expires_at=NOW), LINES, NOW).message
    assert message.startswith("This coupon expired on") and "2026" in message


def test_one_coupon_per_order_by_default(app):
    first, second = Item(kind="amount", value_minor=500, id=1), Item(kind="amount", value_minor=300, id=2)
    outcomes = discounts_for([first, second], LINES, NOW)
    assert [o.refusal for o in outcomes] == [None, "not_stackable"]


def test_coupons_that_allow_each_other_stack_within_the_total(app):
    threshold = Item(threshold_minor=10_000, value_minor=2_000, stacks_with="red_packet", id=1)
    packet = Item(kind="red_packet", value_minor=40_000, stacks_with="threshold", id=2)
    outcomes = discounts_for([threshold, packet], LINES, NOW)
    assert [o.discount_minor for o in outcomes] == [2_000, 30_000]  # ¥320 in all: the packet is cut down
    assert discounts_for([threshold, threshold], LINES, NOW)[1].refusal == "duplicate"
    one_way = Item(kind="red_packet", value_minor=100, id=3)  # allows nothing back
    assert discounts_for([threshold, one_way], LINES, NOW)[1].refusal == "not_stackable"
