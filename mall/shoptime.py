"""The shop's calendar: which local day an instant falls on, and where a local day or month
starts and ends, as UTC instants for queries over UTC timestamps.

Pure functions: the caller passes the zone name (the app reads BABEL_DEFAULT_TIMEZONE);
an empty or missing name means DEFAULT_ZONE, the same default as config.py's.
Times shown in forms and pages convert through web.local_to_utc / web.utc_to_local.
"""
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

DEFAULT_ZONE = "Asia/Shanghai"


def shop_zone(name: str | None) -> ZoneInfo:
    return ZoneInfo(name or DEFAULT_ZONE)


def local_day(at: datetime, zone: str | None) -> date:
    """The shop-local date of the instant `at`."""
    return at.astimezone(shop_zone(zone)).date()


def day_start_utc(day: date, zone: str | None) -> datetime:
    """The UTC instant at which the shop-local `day` begins."""
    return datetime.combine(day, time.min, tzinfo=shop_zone(zone)).astimezone(timezone.utc)


def day_bounds_utc(day: date, zone: str | None) -> tuple[datetime, datetime]:
    """[start, end) of the shop-local `day`, in UTC."""
    return day_start_utc(day, zone), day_start_utc(day + timedelta(days=1), zone)


def month_bounds_utc(day: date, zone: str | None) -> tuple[datetime, datetime]:
    """[start, end) of the shop-local calendar month that contains `day`, in UTC."""
    first = day.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return day_start_utc(first, zone), day_start_utc(following, zone)
