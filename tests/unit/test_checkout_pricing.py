"""Pricing: what the member is shown is exactly what is charged, for every plan kind."""
import pytest
from hypothesis import given, strategies as st

from mall.checkout.pricing import CASH_OFFSET, POINTS, POINTS_CASH, InvalidOffset, max_offset_points, quote


def test_points_only_multiplies_by_quantity():
    q = quote(POINTS, quantity=3, unit_points=1200)
    assert (q.points, q.cash_minor, q.offset_minor) == (3600, 0, 0)


def test_points_plus_cash_keeps_cash_in_minor_units():
    q = quote(POINTS_CASH, quantity=2, unit_points=1000, unit_cash_minor=990)
    assert (q.points, q.cash_minor) == (2000, 1980)


def test_offset_is_capped_at_the_percentage_of_the_line():
    # ¥99.90 at most 30% offset = ¥29.97 = 2,997 points at 100 points per ¥1.
    assert max_offset_points(9990, 30, 100) == 2997
    q = quote(CASH_OFFSET, quantity=1, unit_cash_minor=9990, max_offset_pct=30, offset_points=2997)
    assert (q.points, q.cash_minor, q.offset_minor) == (2997, 6993, 2997)
    with pytest.raises(InvalidOffset):
        quote(CASH_OFFSET, quantity=1, unit_cash_minor=9990, max_offset_pct=30, offset_points=2998)


def test_points_that_buy_less_than_a_fen_are_not_charged():
    # 150 points per ¥1: 1.5 points per fen. 10 points buy 6 fen, which cost 9 points.
    q = quote(CASH_OFFSET, quantity=1, unit_cash_minor=1000, max_offset_pct=50, points_per_unit=150,
              offset_points=10)
    assert (q.points, q.offset_minor, q.cash_minor) == (9, 6, 994)


def test_negative_offset_is_refused():
    with pytest.raises(InvalidOffset):
        quote(CASH_OFFSET, quantity=1, unit_cash_minor=1000, max_offset_pct=50, offset_points=-1)


@given(cash=st.integers(1, 10_000_000), qty=st.integers(1, 10), pct=st.integers(1, 100),
       rate=st.integers(1, 1000), data=st.data())
def test_offset_quotes_are_exact_and_within_the_cap(cash, qty, pct, rate, data):
    most = max_offset_points(cash * qty, pct, rate)
    points = data.draw(st.integers(0, most))
    q = quote(CASH_OFFSET, quantity=qty, unit_cash_minor=cash, max_offset_pct=pct, points_per_unit=rate,
              offset_points=points)
    assert q.cash_minor + q.offset_minor == cash * qty          # nothing lost or invented
    assert q.offset_minor <= cash * qty * pct // 100            # never beyond the cap
    assert 0 <= q.points <= points                              # never more than offered
    # the points charged buy the offset (a coarse rate may buy more than the cap allows)
    assert q.offset_minor == min(q.points * 100 // rate, cash * qty * pct // 100)
    assert quote(CASH_OFFSET, quantity=qty, unit_cash_minor=cash, max_offset_pct=pct, points_per_unit=rate,
                 offset_points=q.points) == q                    # re-quoting the charge gives the same charge
