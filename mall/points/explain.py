"""Why each statement line happened, in the reader's language."""
from flask_babel import get_locale, gettext as _, lazy_gettext as _l

from ..templating import money, points

KIND_LABELS = {
    "earn": lambda: _("Earned"), "spend": lambda: _("Spent"), "expire": lambda: _("Expired"),
    "refund": lambda: _("Refunded"), "adjust": lambda: _("Adjusted"),
}


# Every reason the ledger writes (reason= in mall/), named in a few words: HQ's cost-by-rule
# chart and its CSV name the reasons with these (a rule's own name is shown as the rule's).
REASON_LABELS = {
    "purchase": _l("Points for purchases"), "purchase_bonus": _l("Purchase bonuses approved by HQ"),
    "purchase_refund": _l("Purchase refunds"), "clawback": _l("Points owed for refunded purchases"),
    "checkin": _l("Daily check-in"), "profile": _l("Profile completed"), "referral": _l("Referrals"),
    "welcome": _l("Welcome bonus"), "game_play": _l("Game plays"), "game_prize": _l("Game prizes"),
    "redeem": _l("Redemptions"), "refund": _l("Order refunds"), "expired": _l("Expired points"),
    "adjustment": _l("Adjustments by member services"), "appeal": _l("Appeal adjustments"),
}


def reason_label(reason: str) -> str:
    """A ledger reason in the reader's language; a reason this table does not know, as itself."""
    label = REASON_LABELS.get(reason)
    return str(label) if label is not None else reason


def kind_label(kind: str) -> str:
    return KIND_LABELS.get(kind, lambda: kind)()


def explain(entry) -> str:
    d = entry.detail or {}
    reason = entry.reason
    if reason == "purchase" and d.get("groups"):
        return _("Purchase of %(spend)s (receipt %(ref)s): %(parts)s; total %(points)s points",
                 spend=money(d.get("spend_minor")), ref=entry.reference or "-", parts=line_groups(d),
                 points=points(entry.points))
    if reason == "purchase" and "steps" in d:
        return _("Purchase of %(spend)s (receipt %(ref)s): %(formula)s = %(points)s points",
                 spend=money(d.get("spend_minor")), ref=entry.reference or "-", formula=formula(d),
                 points=points(entry.points + (d.get("bonus_held") or 0) + (d.get("bonus_refused") or 0))) \
            + _bonus_note(d)
    if reason in ("game_play", "game_prize"):
        return _game(reason, d)
    if reason == "purchase_bonus":
        return _("Bonus for a purchase, approved by HQ")
    if reason in TASK_REASONS:
        return TASK_REASONS[reason](d) + _capped_note(d)
    if reason == "purchase":
        return _("Purchase of %(spend)s (receipt %(ref)s): base %(base)s × %(tier)s tier %(mult)s = %(points)s points",
                 spend=money(d.get("spend_minor")), ref=entry.reference or "-", base=points(d.get("base")),
                 tier=_tier_name(d), mult=_multiplier(d.get("multiplier_pct", 100)),
                 points=points(entry.points))
    if reason == "redeem":
        item = d.get("item_zh") if str(get_locale()).startswith("zh") and d.get("item_zh") else d.get("item", "")
        return _("Redeemed %(item)s (order %(ref)s)", item=item, ref=entry.reference or "-")
    if reason == "expired":
        return _("Points earned on %(earned)s reached their expiry date",
                 earned=(d.get("lot_created") or "")[:10])
    if reason == "refund":
        return _("Returned to you for order %(ref)s, with the points' original expiry dates",
                 ref=entry.reference or "-")
    if reason == "purchase_refund" and d.get("partial"):  # some lines of a purchase refunded
        full, taken = int(d.get("points") or 0), -entry.points
        if taken < full:
            return _("Part of a purchase refunded (receipt %(ref)s, %(spend)s): %(taken)s of its %(points)s points "
                     "taken back; the rest is taken from your next points", ref=entry.reference or "-",
                     spend=money(d.get("spend_minor")), taken=points(taken), points=points(full))
        return _("Part of a purchase refunded (receipt %(ref)s, %(spend)s): %(points)s points taken back",
                 ref=entry.reference or "-", spend=money(d.get("spend_minor")), points=points(full))
    if reason == "purchase_refund" and d.get("pending"):  # refunded inside the return window
        return _("Purchase refunded within the return window (receipt %(ref)s): its %(points)s pending "
                 "points were cancelled", ref=entry.reference or "-", points=points(-entry.points))
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
    if reason == "appeal":
        return _("Adjustment for your appeal no. %(id)s: %(note)s", id=d.get("appeal_id", "-"), note=d.get("note", ""))
    return _("Points %(kind)s", kind=kind_label(entry.kind).lower())


def _bonus_note(d: dict) -> str:
    """A purchase whose bonus the budget could not cover says what happened to it."""
    if d.get("bonus_held"):
        return " · " + _("%(points)s bonus points are waiting for HQ's approval (the budget is used up)",
                         points=points(d["bonus_held"]))
    if d.get("bonus_refused"):
        return " · " + _("%(points)s bonus points not given: the budget is used up", points=points(d["bonus_refused"]))
    return ""


def _tier_name(detail: dict) -> str:
    if str(get_locale()).startswith("zh") and detail.get("tier_name_zh"):
        return detail["tier_name_zh"]
    return detail.get("tier_name") or detail.get("tier", "").title()


def _multiplier(pct: int) -> str:
    whole, frac = divmod(int(pct), 100)
    return f"{whole}" if frac == 0 else f"{whole}.{frac:02d}".rstrip("0")


# --- earning rules and tasks (issue 6) -----------------------------------------------------

def _name(step: dict) -> str:
    if str(get_locale()).startswith("zh") and step.get("name_zh"):
        return step["name_zh"]
    return step.get("name") or ""


def formula(detail: dict) -> str:
    """"base 200 × Gold tier 1.2 × Fresh day 2 + New category 30% (60)", from the steps a
    purchase entry (or the console preview) stored: the names and values as they were then."""
    parts = []
    for i, step in enumerate(detail.get("steps", [])):
        op = step.get("op")
        if op == "base":
            parts.append(_("base %(n)s", n=points(step.get("points"))))
        elif op == "×" and i == 1:  # the second step is always the member's tier
            parts.append("× " + _("%(tier)s tier %(mult)s", tier=_tier_name(detail), mult=_multiplier(step["value"])))
        elif op == "×":
            parts.append(f"× {_name(step)} {_multiplier(step['value'])}")
        elif op == "+" and step.get("unit") == "points":
            parts.append(f"+ {_name(step)} {points(step['value'])}")
        elif op == "+":
            parts.append(_("+ %(name)s %(pct)s%% (%(points)s)", name=_name(step), pct=step["value"],
                           points=points(step["points"])))
        elif op == "cap":
            parts.append(_("capped at %(mult)s × base (%(points)s)", mult=_multiplier(step["value"]),
                           points=points(step["points"])))
    return " ".join(parts)


def _category_names(group: dict) -> str:
    zh = str(get_locale()).startswith("zh")
    names = [(zh and name_zh) or name or slug or _("other items") for slug, name, name_zh in group.get("categories", [])]
    return ", ".join(names)


def line_groups(detail: dict) -> str:
    """"¥86 of Fresh food: base 86 × Gold tier 1.2 × Fresh day 2 = 206; ¥200 of Kitchen: ...":
    each group of lines that earned under the same rules, as the entry froze it."""
    parts = []
    for group in detail.get("groups", []):
        what = _("%(spend)s of %(category)s", spend=money(group.get("spend_minor")), category=_category_names(group))
        if group.get("excluded"):
            parts.append(_("%(what)s: not earning", what=what))
        else:
            parts.append(f"{what}: {formula({**detail, 'steps': group.get('steps', [])})} = {points(group['points'])}")
    for step in detail.get("final_steps", []):
        parts.append(f"+ {_name(step)} {points(step['value'])}")
    return "; ".join(parts)


def _checkin(d: dict) -> str:
    text = _("Daily check-in, day %(n)s of your streak", n=d.get("streak", 1))
    return text + (" · " + _("streak bonus") if d.get("streak_bonus") else "")


PROFILE_FIELD_LABELS = {"birthday": lambda: _("birthday"), "city": lambda: _("city"),
                        "favourite_category": lambda: _("favourite category")}


def _profile(d: dict) -> str:
    label = PROFILE_FIELD_LABELS.get(d.get("field"), lambda: d.get("field", ""))()
    return _("Completed your profile: %(field)s", field=label)


def _referral(d: dict) -> str:
    if d.get("role") == "referred":
        return _("Referral bonus: your first purchase after a friend invited you")
    return _("Referral bonus: a friend you invited made their first purchase")


def _game(reason: str, d: dict) -> str:
    """A game's play (its price) or its prize, naming the game (mall/games)."""
    zh = str(get_locale()).startswith("zh")
    game = (d.get("game_zh") if zh else None) or d.get("game", "")
    if reason == "game_play":
        return _("Played %(game)s (play %(n)s)", game=game, n=d.get("play_no", ""))
    prize = (d.get("prize_zh") if zh else None) or d.get("prize", "")
    return _("Prize from %(game)s (play %(n)s): %(prize)s", game=game, n=d.get("play_no", ""), prize=prize)


TASK_REASONS = {"checkin": _checkin, "profile": _profile, "referral": _referral}


def _capped_note(d: dict) -> str:
    if not d.get("capped"):
        return ""
    return " · " + _("limited by the cap on bonus points (%(wanted)s offered)", wanted=points(d.get("wanted")))
