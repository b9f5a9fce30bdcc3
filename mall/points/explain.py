"""Why each statement line happened, in the reader's language."""
from flask_babel import get_locale, gettext as _

from ..templating import money, points

KIND_LABELS = {
    "earn": lambda: _("Earned"), "spend": lambda: _("Spent"), "expire": lambda: _("Expired"),
    "refund": lambda: _("Refunded"), "adjust": lambda: _("Adjusted"),
}


def kind_label(kind: str) -> str:
    return KIND_LABELS.get(kind, lambda: kind)()


def explain(entry) -> str:
    d = entry.detail or {}
    reason = entry.reason
    if reason == "purchase":
        return _("Purchase of %(spend)s (receipt %(ref)s): base %(base)s × %(tier)s tier %(mult)s = %(points)s points",
                 spend=money(d.get("spend_minor")), ref=entry.reference or "-", base=points(d.get("base")),
                 tier=_tier_name(d), mult=_multiplier(d.get("multiplier_pct", 100)),
                 points=points(entry.points))
    if reason == "redeem":
        return _("Redeemed %(item)s (order %(ref)s)", item=d.get("item", ""), ref=entry.reference or "-")
    if reason == "expired":
        return _("Points earned on %(earned)s reached their expiry date",
                 earned=(d.get("lot_created") or "")[:10])
    if reason == "refund":
        return _("Returned to you for order %(ref)s, with the points' original expiry dates",
                 ref=entry.reference or "-")
    if reason == "purchase_refund":  # in store: a refunded purchase takes its points back
        full, taken = int(d.get("points") or 0), -entry.points
        if taken < full:
            return _("Purchase refunded (receipt %(ref)s): %(taken)s of its %(points)s points taken back; "
                     "the rest is taken from your next points", ref=entry.reference or "-",
                     taken=points(taken), points=points(full))
        return _("Purchase refunded (receipt %(ref)s): its %(points)s points taken back",
                 ref=entry.reference or "-", points=points(full))
    if reason == "clawback":
        return _("Points still owed for the refunded purchase (receipt %(ref)s)", ref=entry.reference or "-")
    if reason == "welcome":
        return _("Welcome bonus for joining")
    if reason == "adjustment":
        return _("Adjustment by member services: %(note)s", note=d.get("note", ""))
    return _("Points %(kind)s", kind=kind_label(entry.kind).lower())


def _tier_name(detail: dict) -> str:
    if str(get_locale()).startswith("zh") and detail.get("tier_name_zh"):
        return detail["tier_name_zh"]
    return detail.get("tier_name") or detail.get("tier", "").title()


def _multiplier(pct: int) -> str:
    whole, frac = divmod(int(pct), 100)
    return f"{whole}" if frac == 0 else f"{whole}.{frac:02d}".rstrip("0")
