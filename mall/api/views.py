"""The POS API, /api/v1: JSON in, JSON out, one store's API key per request.

Thin like every view: check the key, check the body against the same limits as the
OpenAPI document (mall/api/openapi.py), call one service, shape the JSON. Refusals are
domain errors turned into `{"error": {"code", "message", ...}}` with a stable code; an
error escaping the view rolls the request back (mall/unit_of_work.py), so a refusal leaves
nothing behind.
"""
import hashlib
import json
import re
from functools import wraps

from flask import Blueprint, current_app, g, jsonify, request, url_for
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from ..accounts.models import User
from ..checkout.models import Order
from ..clock import now
from ..errors import DomainError, InvalidAmount, LockUnavailable
from ..extensions import csrf, db, limiter
from ..instore import api_keys, pickups, purchases
from ..instore.codes import receipt_token
from ..instore.errors import AlreadyPickedUp
from ..instore.services import mask_mobile, mask_name
from ..origin import public_url
from ..points.statement import balance
from ..points.tiers import tier_status
from ..web import answer_errors_under, has_control_characters
from . import openapi

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)  # server to server with an API key; no cookies, so nothing to forge

# Request bodies are a few hundred bytes; anything over this is refused with a 413 before it
# is read (the app-wide limit is sized for image uploads).
MAX_BODY_BYTES = 16 * 1024

STATUS = {
    "validation_error": 400, "invalid_receipt": 400, "invalid_amount": 400,
    "invalid_api_key": 401, "revoked_api_key": 401, "method_not_allowed": 405, "request_too_large": 413,
    "wrong_store": 403, "store_not_allowed": 403,
    "member_not_found": 404, "purchase_not_found": 404, "not_found": 404,
    "already_picked_up": 409, "not_ready": 409, "member_frozen": 409, "receipt_conflict": 409,
    "purchase_refunded": 409, "claimed_by_another_member": 409, "invalid_lines": 400, "refund_conflict": 409,
    "invalid_code": 422, "code_expired": 422, "cash_method_required": 422, "nothing_to_earn": 422,
    "rate_limited": 429, "busy": 503, "coupon_not_found": 404, "coupon_refused": 409,
}


class ValidationError(DomainError):
    code = "validation_error"


def error(code: str, message: str, status: int | None = None, *, field: str | None = None,
          details: dict | None = None):
    body = {"code": code, "message": message}
    if field:
        body["field"] = field
    if details:
        body["details"] = details
    response = jsonify(error=body)
    response.status_code = status or STATUS.get(code, 400)
    return response


@bp.errorhandler(DomainError)
def domain_error(exc: DomainError):
    code = getattr(exc, "code", None) or ("invalid_amount" if isinstance(exc, InvalidAmount) else
                                         "busy" if isinstance(exc, LockUnavailable) else "validation_error")
    details = None
    if isinstance(exc, AlreadyPickedUp):
        details = {"store": exc.store, "picked_up_at": exc.at.isoformat(), "by": exc.staff}
    return error(code, str(exc.message), field=exc.field, details=details)


@bp.errorhandler(400)
@bp.errorhandler(404)
@bp.errorhandler(405)
@bp.errorhandler(429)
@bp.errorhandler(HTTPException)
def http_error(exc: HTTPException):
    """JSON for every HTTP error inside /api/v1 (registered per code too, because the app's
    HTML handlers are registered per code and Flask looks codes up before classes)."""
    codes = {404: "not_found", 405: "method_not_allowed", 413: "request_too_large", 429: "rate_limited",
             500: "internal_error"}
    if exc.code == 429:
        return error("rate_limited", _("Too many requests. Wait a moment, then try again."), 429)
    if exc.code == 413:
        return error("request_too_large", _("The request body is larger than %(n)s bytes.", n=MAX_BODY_BYTES), 413)
    if exc.code == 500:
        return error("internal_error", _("Something went wrong on our side. Nothing was changed."), 500)
    response = error(codes.get(exc.code, "validation_error"), exc.description or exc.name, exc.code)
    if exc.code == 405 and getattr(exc, "valid_methods", None):
        response.headers["Allow"] = ", ".join(sorted(exc.valid_methods))
    return response


# Unknown paths and wrong methods under /api/ match no API route, so the blueprint's own
# handlers never see them: the app's error pages hand them back here.
answer_errors_under("/api/", http_error)


@bp.before_request
def limit_body_size():
    request.max_content_length = MAX_BODY_BYTES  # also for a body sent without a length
    if (request.content_length or 0) > MAX_BODY_BYTES:
        raise RequestEntityTooLarge()


@bp.errorhandler(Exception)
def unexpected(exc: Exception):
    current_app.logger.exception("API error")
    return error("internal_error", _("Something went wrong on our side. Nothing was changed."), 500)


# --- authentication and limits ------------------------------------------------------------

def _presented_key() -> str | None:
    """The key from `Authorization: Bearer ...`, the one way the document describes."""
    header = request.headers.get("Authorization", "")
    if header[:7].lower() != "bearer ":
        return None
    return header[7:].strip() or None


def _limit_key() -> str:
    """Per key (hashed, so the raw key never lands in Redis); per address without one."""
    presented = _presented_key()
    if presented:
        return "key:" + hashlib.sha256(presented.encode()).hexdigest()[:24]
    return f"ip:{request.remote_addr}"


code_entry_limit = limiter.shared_limit(lambda: current_app.config["MALL_CODE_ENTRY_RATE_LIMIT"], key_func=_limit_key,
                                 scope="api-code-entry")
earn_limit = limiter.shared_limit(lambda: current_app.config["MALL_EARN_RATE_LIMIT"], key_func=_limit_key,
                           scope="api-earn")


def api_key_required(view):
    @wraps(view)
    def guarded(*args, **kwargs):
        g.api_key = api_keys.authenticate(_presented_key(), now())
        return view(*args, **kwargs)
    return guarded


# --- input, checked against the same limits as the document -------------------------------

class _DuplicateField(ValueError):
    def __init__(self, name: str):
        self.name = name


def _object(pairs: list) -> dict:
    """JSON objects with a name given twice are refused: which value was meant is unknowable
    (and parsers disagree on which one wins)."""
    body = {}
    for name, value in pairs:
        if name in body:
            raise _DuplicateField(name)
        body[name] = value
    return body


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def _json() -> object:
    if not request.is_json:
        return None
    try:
        return json.loads(request.get_data(cache=True).decode("utf-8"), object_pairs_hook=_object,
                          parse_constant=_no_constant)
    except _DuplicateField as duplicate:
        raise ValidationError(_("The field %(field)s is given more than once.", field=duplicate.name),
                              field=duplicate.name)
    except (ValueError, RecursionError):  # not UTF-8, not JSON, or nested beyond reason
        return None


def _body(allowed: set[str], required: set[str]) -> dict:
    body = _json()
    if not isinstance(body, dict):
        raise ValidationError(_("Send a JSON object."))
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise ValidationError(_("Unknown field: %(field)s.", field=unknown[0]), field=unknown[0])
    missing = sorted(required - set(body))
    if missing:
        raise ValidationError(_("Missing field: %(field)s.", field=missing[0]), field=missing[0])
    return body


def _string(value, field: str, pattern: str) -> str:
    if not isinstance(value, str) or not re.fullmatch(pattern, value):
        raise ValidationError(_("%(field)s is not in the expected format.", field=field), field=field)
    return value


def _amount(value) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= openapi.MAX_AMOUNT_MINOR:
        raise ValidationError(_("amount_minor must be a whole number of minor units from 1 to %(max)s.",
                                max=openapi.MAX_AMOUNT_MINOR), field="amount_minor")
    return value


def _member_ref(value) -> dict:
    if not isinstance(value, dict) or len(value) != 1 or not set(value) <= {"mobile", "member_code"}:
        raise ValidationError(_("member needs exactly one of mobile or member_code."), field="member")
    (name, raw), = value.items()
    pattern = openapi.MOBILE_PATTERN if name == "mobile" else openapi.MEMBER_CODE_PATTERN
    return {name: _string(raw, f"member.{name}", pattern)}


def _int(value, field: str, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ValidationError(_("%(field)s must be a whole number from %(low)s to %(high)s.", field=field,
                                low=low, high=high), field=field)
    return value


# JSON may carry what no text column can hold: a lone UTF-16 surrogate ("\ud800"), which can't
# be encoded, and control characters such as NUL, which PostgreSQL refuses in text.
_UNSTORABLE = re.compile("[\ud800-\udfff]")


def _storable(text: str) -> bool:
    return not has_control_characters(text) and _UNSTORABLE.search(text) is None


def _array(value, field: str) -> list:
    if not isinstance(value, list) or not 1 <= len(value) <= purchases.MAX_LINES:
        raise ValidationError(_("%(field)s must be a list of 1 to %(max)s lines.", field=field,
                                max=purchases.MAX_LINES), field=field)
    return value


def _lines(value) -> list:
    """Purchase lines, checked against the document's PurchaseLineRequest."""
    allowed = set(openapi.SCHEMAS["PurchaseLineRequest"]["properties"])
    out = []
    for n, raw in enumerate(_array(value, "lines"), start=1):
        field = f"lines[{n}]"
        if not isinstance(raw, dict) or "amount_minor" not in raw or set(raw) - allowed:
            raise ValidationError(_("%(field)s needs amount_minor and only the documented fields.", field=field),
                                  field=field)
        text = {k: raw.get(k, "") for k in ("sku", "name")}
        if any(not isinstance(v, str) or len(v) > (40 if k == "sku" else 120) or not _storable(v)
               for k, v in text.items()):
            raise ValidationError(_("%(field)s is not in the expected format.", field=field), field=field)
        category = _string(raw.get("category", ""), f"{field}.category", openapi.CATEGORY_PATTERN)
        excluded = raw.get("excluded", False)
        if not isinstance(excluded, bool):
            raise ValidationError(_("%(field)s is not in the expected format.", field=f"{field}.excluded"),
                                  field=f"{field}.excluded")
        out.append(purchases.LineInput(
            amount_minor=_int(raw["amount_minor"], f"{field}.amount_minor", 0, openapi.MAX_AMOUNT_MINOR),
            quantity=_int(raw.get("quantity", 1), f"{field}.quantity", 1, purchases.MAX_QUANTITY),
            category=category, excluded=excluded, **text))
    return out


def _refund_lines(value) -> list:
    out = []
    for n, raw in enumerate(_array(value, "lines"), start=1):
        field = f"lines[{n}]"
        if not isinstance(raw, dict) or "line_no" not in raw or set(raw) - {"line_no", "quantity"}:
            raise ValidationError(_("%(field)s needs line_no and at most quantity.", field=field), field=field)
        quantity = raw.get("quantity")
        out.append(purchases.RefundLine(
            line_no=_int(raw["line_no"], f"{field}.line_no", 1, 2**31 - 1),
            quantity=None if quantity is None else _int(quantity, f"{field}.quantity", 1, purchases.MAX_QUANTITY)))
    return out


# --- shapes --------------------------------------------------------------------------------

def _purchase_json(purchase) -> dict:
    member = db.session.get(User, purchase.member_id) if purchase.member_id else None
    open_ = purchase.status == "open"
    return {"receipt_no": purchase.receipt_no, "store_code": purchase.store.code,
            "amount_minor": purchase.amount_minor, "status": purchase.status, "points": purchase.points,
            "member_code": member.member_code if member else None,
            "claim_url": public_url("instore.claim", token=receipt_token(purchase.id)) if open_ else None,
            "claim_expires_at": purchase.expires_at.isoformat(), "created_at": purchase.created_at.isoformat(),
            "lines": [{"line_no": l.line_no, "sku": l.sku, "name": l.name, "category": l.category,
                       "quantity": l.quantity, "amount_minor": l.amount_minor, "excluded": l.excluded,
                       "points": l.points, "refunded_quantity": l.refunded_quantity,
                       "refunded_points": l.refunded_points} for l in purchase.lines]}


# --- endpoints ------------------------------------------------------------------------------

@bp.route("/openapi.json")
def openapi_document():
    return jsonify(openapi.document(url_for("api.openapi_document").rsplit("/", 1)[0]))


@bp.route("/members")
@code_entry_limit
@api_key_required
def lookup_member():
    mobile, code = request.args.get("mobile"), request.args.get("member_code")
    if (mobile is None) == (code is None):
        raise ValidationError(_("Give exactly one of mobile or member_code."))
    ref = {"mobile": _string(mobile, "mobile", openapi.MOBILE_PATTERN)} if mobile is not None else \
        {"member_code": _string(code, "member_code", openapi.MEMBER_CODE_PATTERN)}
    member = purchases.find_member(**ref)
    at = now()
    tier = tier_status(member.id, at).tier
    return jsonify(member_code=member.member_code, masked_name=mask_name(member.display_name),
                   masked_mobile=mask_mobile(member.mobile), tier={"code": tier.code, "name": tier.name},
                   points=balance(member.id, at).points, frozen=member.is_frozen)


@bp.route("/purchases", methods=["POST"])
@earn_limit
@api_key_required
def earn():
    body = _body({"receipt_no", "amount_minor", "member", "lines"}, {"receipt_no", "amount_minor"})
    receipt_no = _string(body["receipt_no"], "receipt_no", openapi.RECEIPT_PATTERN)
    amount = _amount(body["amount_minor"])
    lines = _lines(body["lines"]) if "lines" in body else None
    cfg, key = current_app.config, g.api_key
    if "member" in body:
        member = purchases.find_member(**_member_ref(body["member"]))
        purchase, created = purchases.earn_for_member(
            key.store_id, receipt_no, amount, member.id, now=now(), code_hours=cfg["MALL_RECEIPT_CODE_HOURS"],
            minor_per_point=cfg["MALL_EARN_BASE_MINOR_PER_POINT"], api_key_id=key.id, lines=lines)
    else:
        purchase, created = purchases.create_purchase(key.store_id, receipt_no, amount, now=now(),
                                                      code_hours=cfg["MALL_RECEIPT_CODE_HOURS"], api_key_id=key.id,
                                                      lines=lines)
    return jsonify(_purchase_json(purchase)), 201 if created else 200


# A receipt number may hold "/" (RECEIPT_PATTERN), so it is matched as a path, slashes kept.
@bp.route("/purchases/<path:receipt_no>/refund", methods=["POST"], merge_slashes=False)
@earn_limit
@api_key_required
def refund(receipt_no: str):
    _string(receipt_no, "receipt_no", openapi.RECEIPT_PATTERN)
    body = _body({"refund_no", "lines"}, set()) if request.get_data() else {}
    refund_no = _string(body["refund_no"], "refund_no", openapi.RECEIPT_PATTERN) if "refund_no" in body else None
    lines = _refund_lines(body["lines"]) if "lines" in body else None
    outcome = purchases.refund_purchase(g.api_key.store_id, receipt_no, now=now(), lines=lines, refund_no=refund_no)
    return jsonify(purchase=_purchase_json(outcome.purchase), reversed_points=outcome.reversed_points,
                   clawback_points=outcome.clawback_points, refunded_amount_minor=outcome.amount_minor)


@bp.route("/pickups/<code>")
@code_entry_limit
@api_key_required
def preview_pickup(code: str):
    _string(code, "code", openapi.CODE_PATTERN)
    found = pickups.find_for_counter(code, store_id=g.api_key.store_id, now=now(),
                                     pickup_days=current_app.config["MALL_PICKUP_DAYS"])
    return jsonify(order_number=found.number, code=found.code,
                   items=[{"name": name, "quantity": qty} for name, qty in found.lines],
                   masked_name=found.masked_name, member_code=found.member_code,
                   cash_due_minor=found.cash_due_minor, pickup_until=found.deadline.isoformat())


@bp.route("/pickups", methods=["POST"])
@code_entry_limit
@api_key_required
def redeem_pickup():
    body = _body({"code", "cash_method"}, {"code"})
    code = _string(body["code"], "code", openapi.CODE_PATTERN)
    method = body.get("cash_method")
    if method is not None and method not in openapi.CASH_METHODS:
        raise ValidationError(_("cash_method must be one of: %(methods)s.", methods=", ".join(openapi.CASH_METHODS)),
                              field="cash_method")
    pickup = pickups.hand_over(code, store_id=g.api_key.store_id, now=now(), api_key_id=g.api_key.id,
                               pickup_days=current_app.config["MALL_PICKUP_DAYS"], cash_method=method)
    order = db.session.get(Order, pickup.order_id)
    return jsonify(order_number=order.number, store_code=pickup.store.code, picked_up_at=pickup.picked_up_at.isoformat(),
                   cash_minor=pickup.cash_minor, cash_method=pickup.cash_method), 201
