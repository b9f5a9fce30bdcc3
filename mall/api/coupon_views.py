"""The POS API's coupon endpoints (issue 13): check a coupon or red packet against a
purchase's lines, and spend it on that purchase. Registered on the API blueprint (create_app
imports this module); thin like every view: check the body, call one instore service.

A refusal to spend (used, expired, below the threshold...) is a 409 `coupon_refused` with
`details.reason` (the stable refusal code) and a message for the cashier; nothing is written.
"""
from flask import g, jsonify

from ..clock import now
from ..instore import coupons
from ..wallet.pricing import Discount
from . import openapi
from .views import _body, _string, api_key_required, bp, earn_limit, error


def _code() -> str:
    body = _body({"code"}, {"code"})
    return _string(body["code"], "code", openapi.COUPON_CODE_PATTERN).strip()


def _coupon_json(item, discount: Discount, receipt_no: str) -> dict:
    return {"receipt_no": receipt_no, "usable": discount.ok, "discount_minor": discount.discount_minor,
            "reason": discount.refusal, "message": discount.message,
            "coupon": None if item is None else {
                "short_code": item.short_code, "name": item.name, "kind": item.kind, "state": item.state,
                "expires_at": item.expires_at.isoformat()}}


@bp.route("/purchases/<path:receipt_no>/coupons/check", methods=["POST"], merge_slashes=False)
@earn_limit
@api_key_required
def check_coupon(receipt_no: str):
    _string(receipt_no, "receipt_no", openapi.RECEIPT_PATTERN)
    code = _code()
    found = coupons.check_coupon(g.api_key.store_id, receipt_no, code, now=now())
    return jsonify(_coupon_json(found.item, found.discount, receipt_no))


@bp.route("/purchases/<path:receipt_no>/coupons", methods=["POST"], merge_slashes=False)
@earn_limit
@api_key_required
def spend_coupon(receipt_no: str):
    _string(receipt_no, "receipt_no", openapi.RECEIPT_PATTERN)
    code = _code()
    done = coupons.spend_coupon(g.api_key.store_id, receipt_no, code, now=now())
    if done.item is None:
        return error("coupon_not_found", done.discount.message, 404, field="code")
    if not done.ok:
        return error("coupon_refused", done.discount.message, 409, field="code",
                     details={"reason": done.discount.refusal})
    return jsonify(_coupon_json(done.item, done.discount, receipt_no)), 201 if done.spent else 200
