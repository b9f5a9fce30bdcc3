"""The random red-packet amounts (mall/redpackets/amounts.py, docs/redpackets.md)."""
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mall.redpackets.amounts import Unpayable, draw, draw_bounds, plan


@st.composite
def campaigns(draw_):
    min_minor = draw_(st.integers(1, 500))
    max_minor = draw_(st.integers(min_minor, 2000))
    count = draw_(st.integers(1, 300))
    total = draw_(st.integers(count * min_minor, count * max_minor))
    return total, count, min_minor, max_minor, draw_(st.integers(0, 2**32))


@settings(max_examples=300, deadline=None)
@given(campaigns())
def test_claiming_every_packet_pays_exactly_the_total_each_within_the_range(case):
    total, count, lo, hi, seed = case
    rng = random.Random(seed)
    remaining, amounts = total, []
    for left in range(count, 0, -1):
        amount = draw(remaining, left, lo, hi, randbelow=rng.randrange)
        assert lo <= amount <= hi
        remaining -= amount
        assert remaining >= 0
        amounts.append(amount)
    assert sum(amounts) == total and remaining == 0


@settings(max_examples=300, deadline=None)
@given(campaigns())
def test_no_draw_takes_more_than_twice_the_mean_left(case):
    total, count, lo, hi, seed = case
    rng = random.Random(seed)
    remaining = total
    for left in range(count, 1, -1):
        amount = draw(remaining, left, lo, hi, randbelow=rng.randrange)
        assert amount <= max(lo, 2 * remaining // left)
        remaining -= amount


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 1_000_000), st.integers(1, 1000), st.integers(0, 1000))
def test_a_plan_either_fits_the_range_or_is_refused(total, min_minor, spread):
    max_minor = min_minor + spread
    try:
        p = plan(total, min_minor, max_minor)
    except Unpayable:
        return
    assert p.count * min_minor <= total <= p.count * max_minor


def test_a_hundred_yuan_between_one_and_ten_makes_about_two_hundred_packets():
    p = plan(10_000, 1, 99)
    assert p.count == 200


def test_the_last_packet_is_exactly_the_remainder():
    assert draw_bounds(368, 1, 1, 1000) == (368, 368)


def test_fixed_amounts_are_all_equal():
    p = plan(1000, 100, 100)
    assert p.count == 10
    assert {draw(1000 - 100 * i, 10 - i, 100, 100) for i in range(10)} == {100}


@pytest.mark.parametrize("total,lo,hi,count", [(0, 1, 2, None), (10, 3, 3, None), (100, 50, 60, 1), (5, 2, 1, None)])
def test_a_total_that_cannot_be_cut_into_the_range_is_refused(total, lo, hi, count):
    with pytest.raises(Unpayable):
        plan(total, lo, hi, count)
