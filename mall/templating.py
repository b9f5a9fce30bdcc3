"""Jinja filters and globals: money, points and dates in the reader's locale, and
localised names for content that merchandisers enter in two languages."""
from decimal import Decimal

from flask import Flask, current_app
from flask_babel import format_date, format_datetime, format_time, format_decimal, get_locale

from .static_files import static_url


def money(minor: int | None) -> str:
    """Integer minor units to a currency string; whole amounts drop the decimals."""
    minor = minor or 0
    amount = Decimal(abs(minor)) / 100
    digits = format_decimal(amount, format="#,##0" if minor % 100 == 0 else "#,##0.00")
    return ("-" if minor < 0 else "") + current_app.config["MALL_CURRENCY_SYMBOL"] + digits


def points(value: int | None) -> str:
    return format_decimal(value or 0)


def localized(obj, field: str) -> str:
    """obj.<field>_zh when reading Chinese and it is filled in, else obj.<field>."""
    if obj is None:
        return ""
    if str(get_locale()).startswith("zh"):
        value = getattr(obj, f"{field}_zh", None)
        if value:
            return value
    return getattr(obj, field)


def image_url(item, thumb: bool = False) -> str:
    """Demo art lives in static/; merchandisers' uploads are served from the uploads folder."""
    from flask import url_for
    if not item or not item.image:
        return static_url("img/placeholder.svg")
    if item.image.startswith("items/"):
        name = item.image.replace(".webp", "-thumb.webp") if thumb else item.image
        return url_for("catalog.media", name=name)
    return static_url(item.image)


# Dates and times as each language writes them, always on the 24-hour clock (Babel's own
# "short" English is "12/2/26, 7:37 AM", which members misread). Other formats pass through.
DATETIME_PATTERNS = {"zh": {"short": "y年M月d日 HH:mm", "medium": "y年M月d日 HH:mm"},
                     "en": {"short": "d MMM y, HH:mm", "medium": "d MMM y, HH:mm"}}


def shown_datetime(value, fmt: str = "medium") -> str:
    if not value:
        return ""
    language = "zh" if str(get_locale()).startswith("zh") else "en"
    return format_datetime(value, DATETIME_PATTERNS[language].get(fmt, fmt))


def register_templating(app: Flask) -> None:
    app.jinja_env.filters.update(
        money=money, points=points, date=lambda d, fmt="medium": format_date(d, fmt) if d else "",
        datetime=shown_datetime,
        time=lambda d, fmt="HH:mm": format_time(d, fmt) if d else "")
    # points' explain and kind_label are added by the points blueprint (mall/points/views.py)
    app.jinja_env.globals.update(localized=localized, get_locale=get_locale, image_url=image_url)
    app.jinja_env.add_extension("jinja2.ext.do")
