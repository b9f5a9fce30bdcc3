"""An order event's note in the reader's language, for the order's timeline.

Services write a note as an English fact, some with a number or a time in it (the audit trail
reads the same for everyone); the timeline translates the notes it knows and shows any other
note, such as a person's own (staff, HQ), as written."""
import re
from datetime import datetime, timezone

from flask_babel import gettext as _, lazy_gettext as _l

from ..templating import money, shown_datetime

FIXED = {
    "approved after review": _l("approved after review"),
    "card payment succeeded": _l("card payment succeeded"),
    "cash due at the counter": _l("cash due at the counter"),
    "cash refunded to the card": _l("cash refunded to the card"),
    "full refund": _l("full refund"),
    "game prize": _l("game prize"),
    "hold extended while the bank answers": _l("hold extended while the bank answers"),
    "late payment: stock and points taken again": _l("late payment: stock and points taken again"),
    "paid after the hold ended and can't be filled": _l("paid after the hold ended and can't be filled"),
    "paid after the hold ended; its coupon was given back": _l("paid after the hold ended; its coupon was given back"),
    "paid after the member cancelled": _l("paid after the member cancelled"),
    "paid, but it could no longer be delivered": _l("paid, but it could no longer be delivered"),
    "paid in points": _l("paid in points"),
    "presale stock arrived": _l("presale stock arrived"),
    "the hold ran out before payment": _l("the hold ran out before payment"),
}
# The same words as the counter's "Paid by" choices (mall/instore/forms.py).
CASH_METHODS = {"cash": _l("Cash"), "card": _l("Bank card"), "wechat": _l("WeChat Pay"), "alipay": _l("Alipay")}

PLACE = re.compile(r"place (\d+) of (\d+), ships (\d{4}-\d{2}-\d{2})")          # mall/presale/services.py
OFFER = re.compile(r"choose a substitute or a full refund by (\d{4}-\d{2}-\d{2} \d{2}:\d{2})")  # shop time
SWITCH = re.compile(r"(.+) → (.+); points (\d+) → (\d+)")                        # a pre-order's substitute
MOVED = re.compile(r"from (\d{4}-\d{2}-\d{2} \d{2}:\d{2}) UTC")                  # mall/bookings/services.py
PICKUP = re.compile(r"(.+); (\d+\.\d{2}) (cash|card|wechat|alipay)")             # mall/instore/pickups.py


def order_note(note: str | None) -> str:
    if not note:
        return ""
    if note in FIXED:
        return str(FIXED[note])
    if m := PLACE.fullmatch(note):
        return _("place %(n)s of %(cap)s, ships %(date)s", n=m[1], cap=m[2], date=m[3])
    if m := OFFER.fullmatch(note):
        return _("choose a substitute or a full refund by %(time)s", time=m[1])
    if m := SWITCH.fullmatch(note):
        return _("%(old)s → %(new)s; points %(before)s → %(after)s", old=m[1], new=m[2], before=m[3], after=m[4])
    if m := MOVED.fullmatch(note):
        when = datetime.strptime(m[1], "%Y-%m-%d %H:%M").replace(tzinfo=timezone.utc)
        return _("moved from %(time)s", time=shown_datetime(when, "short"))
    if m := PICKUP.fullmatch(note):
        return _("%(store)s; %(amount)s paid by %(method)s", store=m[1], amount=money(round(float(m[2]) * 100)),
                 method=CASH_METHODS[m[3]])
    return note
