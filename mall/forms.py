"""The base form: Flask-WTF with WTForms' own messages translated once per locale
(Flask-WTF would re-read them from disk on every request); and the number and date fields
every form uses, which accept one documented format."""
import re
from decimal import Decimal
from functools import lru_cache

from babel import support
from flask_babel import get_locale, lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.csrf import _FlaskFormCSRF
from markupsafe import escape
from wtforms import fields as _fields
from wtforms.i18n import messages_path

from .web import MAX_INT


@lru_cache(maxsize=8)
def _wtforms_translations(locale: str):
    return support.Translations.load(messages_path(), [locale], domain="wtforms")


class _Translations:
    """WTForms' messages in the reader's language, looked up when a message is needed: a
    form that validates (a checkout) never works out the locale for them."""

    def gettext(self, string):
        return _wtforms_translations(str(get_locale())).gettext(string)

    def ngettext(self, singular, plural, n):
        return _wtforms_translations(str(get_locale())).ngettext(singular, plural, n)


_TRANSLATIONS = _Translations()


class _Token:
    """A form's CSRF token, signed when the form is rendered. A submitted form is checked by
    CSRFProtect before the view runs; signing a token it will never show cost each POST an
    HMAC (the checkout's success answer is a redirect)."""
    __slots__ = ("_make",)

    def __init__(self, make):
        self._make = make

    def __str__(self):
        return self._make()

    def __html__(self):
        return str(escape(self._make()))

    def __eq__(self, other):
        return str(self) == other

    __hash__ = None


class _LazyCSRF(_FlaskFormCSRF):
    def generate_csrf_token(self, csrf_token_field):
        make = super().generate_csrf_token
        return _Token(lambda: make(csrf_token_field))  # generate_csrf keeps one per request (g)


class Form(FlaskForm):
    class Meta(FlaskForm.Meta):
        csrf_class = _LazyCSRF

        def get_translations(self, form):
            return _TRANSLATIONS


# --- numbers and dates: one format, checked at the edge ------------------------------------
#
# A number is written in ASCII digits 0-9, with an optional sign, and money with at most two
# decimals after a point ("9.90"). Python's int() and Decimal() accept far more ("1_0", "1e3",
# "NaN", full-width "１２" and Arabic-Indic "٣"), and values beyond the database's INTEGER;
# these fields refuse all of that with a message, as the POS API does (JSON numbers).

_WHOLE = re.compile(r"[+-]?[0-9]{1,12}")
_MONEY = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,2})?")
MAX_MONEY = Decimal(MAX_INT) / 100  # cash columns hold integer minor units
# Dates a person could mean; the ends of the calendar overflow time-zone arithmetic.
FIRST_YEAR, LAST_YEAR = 1900, 2200


def whole_number(value) -> int:
    """Parse a whole number in the one accepted format (also a SelectField's coerce)."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        text = str(value).strip() if value is not None else ""
        if not _WHOLE.fullmatch(text):
            raise ValueError(_l("Enter a whole number in digits 0-9, like 12."))
        number = int(text)
    if not -MAX_INT <= number <= MAX_INT:
        raise ValueError(_l("Enter a number between -%(max)s and %(max)s.", max=MAX_INT))
    return number


def money(text: str) -> Decimal:
    """An amount like 9.90 or 1,280.5 (an optional ¥, thousands commas), 0 to MAX_MONEY."""
    raw = (text or "").strip().lstrip("¥").replace(",", "")
    if raw.startswith("-") and _MONEY.fullmatch(raw[1:]):
        raise ValueError(_l("Enter an amount like 9.90, not below zero."))
    if not _MONEY.fullmatch(raw):
        raise ValueError(_l("Enter an amount like 9.90."))
    amount = Decimal(raw)
    if amount > MAX_MONEY:
        raise ValueError(_l("Enter an amount up to %(max)s.", max=f"{MAX_MONEY:,.2f}"))
    return amount


class _OneFormat:
    """A field that reads its text with `parse` (the one accepted format) or refuses it."""
    parse = None

    def process_formdata(self, valuelist):
        if not valuelist:
            return
        try:
            self.data = type(self).parse(valuelist[0])
        except ValueError:
            self.data = None
            raise


class IntegerField(_OneFormat, _fields.IntegerField):
    """WTForms' IntegerField in the one format and the INTEGER range."""
    parse = staticmethod(whole_number)


class DecimalField(_OneFormat, _fields.DecimalField):
    """Money typed as 128.50: the one format, never NaN, Infinity or 1e3."""
    parse = staticmethod(money)


def _check_year(value):
    if value is not None and not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValueError(_l("Enter a date between %(first)s and %(last)s.", first=FIRST_YEAR, last=LAST_YEAR))


class DateField(_fields.DateField):
    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        try:
            _check_year(self.data)
        except ValueError:
            self.data = None
            raise


class DateTimeLocalField(_fields.DateTimeLocalField):
    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        try:
            _check_year(self.data)
        except ValueError:
            self.data = None
            raise

