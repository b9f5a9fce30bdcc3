"""The shop's calendar: local days and months in the shop's zone, as UTC instants."""
from datetime import date, datetime, timezone

from mall import shoptime

UTC = timezone.utc


def test_a_missing_zone_name_means_the_default_zone():
    assert shoptime.DEFAULT_ZONE == "Asia/Shanghai"
    assert shoptime.shop_zone(None).key == shoptime.shop_zone("").key == "Asia/Shanghai"
    assert shoptime.shop_zone("Europe/London").key == "Europe/London"


def test_local_day_turns_at_shop_midnight():
    assert shoptime.local_day(datetime(2026, 6, 1, 15, 59, tzinfo=UTC), "Asia/Shanghai") == date(2026, 6, 1)
    assert shoptime.local_day(datetime(2026, 6, 1, 16, 0, tzinfo=UTC), "Asia/Shanghai") == date(2026, 6, 2)
    assert shoptime.local_day(datetime(2026, 6, 1, 16, 0, tzinfo=UTC), "UTC") == date(2026, 6, 1)


def test_day_bounds_are_utc_instants_of_shop_midnights():
    start, end = shoptime.day_bounds_utc(date(2026, 6, 2), "Asia/Shanghai")
    assert (start, end) == (datetime(2026, 6, 1, 16, tzinfo=UTC), datetime(2026, 6, 2, 16, tzinfo=UTC))
    assert start.tzinfo == UTC
    assert shoptime.day_start_utc(date(2026, 6, 2), None) == start


def test_a_day_across_a_daylight_saving_change_is_23_hours():
    start, end = shoptime.day_bounds_utc(date(2026, 3, 29), "Europe/London")
    assert (end - start).total_seconds() == 23 * 3600


def test_month_bounds_cover_the_local_month_including_december():
    assert shoptime.month_bounds_utc(date(2026, 6, 17), "Asia/Shanghai") == (
        datetime(2026, 5, 31, 16, tzinfo=UTC), datetime(2026, 6, 30, 16, tzinfo=UTC))
    assert shoptime.month_bounds_utc(date(2026, 12, 31), "UTC") == (
        datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    assert shoptime.month_bounds_utc(date(2026, 2, 1), "UTC")[1] == datetime(2026, 3, 1, tzinfo=UTC)
