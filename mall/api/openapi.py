"""The POS API's OpenAPI 3.1 document, served at /api/v1/openapi.json.

It is the contract: the tests validate every response against it and schemathesis
generates requests from it. Request limits here (lengths, patterns, maximums) are the same
ones mall/api/views.py enforces, so anything the document allows is handled without a 5xx.
"""
from ..instore.models import CASH_METHODS as _CASH_METHODS
from ..instore.purchases import MAX_AMOUNT_MINOR, MAX_LINES, MAX_QUANTITY, RECEIPT_PATTERN

# RECEIPT_PATTERN (imported above) is the counter's too: one shape of receipt number everywhere.
CODE_PATTERN = r"^[A-Za-z0-9:-]{3,64}$"
MOBILE_PATTERN = r"^\+?[0-9]{5,20}$"
MEMBER_CODE_PATTERN = r"^[A-Za-z0-9]{1,16}$"
CASH_METHODS = list(_CASH_METHODS)  # a list, as JSON Schema enums are
CATEGORY_PATTERN = r"^([a-z0-9][a-z0-9_-]{0,39})?$"
# A wallet item's QR code (URL-safe base64) or its short code (letters and digits, spaces ignored).
COUPON_CODE_PATTERN = r"^[A-Za-z0-9_ -]{4,64}$"
COUPON_REFUSALS = ["used", "expired", "cancelled", "not_yet_valid", "other_store", "not_eligible",
                   "below_threshold", "nothing_to_waive", "not_stackable", "duplicate", "not_found", "not_yours"]

ERROR_CODES = [
    "validation_error", "invalid_api_key", "revoked_api_key", "rate_limited", "not_found", "method_not_allowed",
    "member_not_found", "member_frozen", "receipt_conflict", "invalid_receipt", "purchase_not_found",
    "purchase_refunded", "invalid_code", "code_expired", "already_picked_up", "not_ready", "wrong_store",
    "cash_method_required", "invalid_amount", "store_not_allowed", "claimed_by_another_member",
    "nothing_to_earn", "busy", "internal_error", "request_too_large", "invalid_lines", "refund_conflict",
    "coupon_not_found", "coupon_refused",
]


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _error(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": _ref("Error")}}}


def _ok(description: str, schema: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": _ref(schema)}}}


COMMON_ERRORS = {
    "401": _error("The API key is missing, unknown (`invalid_api_key`) or revoked (`revoked_api_key`)."),
    "429": _error("Too many requests for this key (`rate_limited`); retry after the `Retry-After` seconds."),
    "503": _error("Busy for a moment (`busy`): nothing was changed; retry."),
}

SCHEMAS = {
    "Error": {
        "type": "object", "required": ["error"], "additionalProperties": False,
        "properties": {"error": {
            "type": "object", "required": ["code", "message"], "additionalProperties": False,
            "properties": {
                "code": {"type": "string", "enum": ERROR_CODES, "description": "Stable; safe to branch on."},
                "message": {"type": "string", "description": "For people; in the Accept-Language language."},
                "field": {"type": "string", "description": "The request field the error is about, if any."},
                "details": {"type": "object", "description": "Facts about the refusal (e.g. where and when "
                                                             "an order was already picked up)."},
            }}},
    },
    "MemberRef": {
        "type": "object", "additionalProperties": False, "minProperties": 1, "maxProperties": 1,
        "description": "The member, by exactly one of mobile number or member code.",
        "properties": {"mobile": {"type": "string", "pattern": MOBILE_PATTERN},
                       "member_code": {"type": "string", "pattern": MEMBER_CODE_PATTERN}},
    },
    "Member": {
        "type": "object", "additionalProperties": False,
        "required": ["member_code", "masked_name", "masked_mobile", "tier", "points", "frozen"],
        "properties": {
            "member_code": {"type": "string"},
            "masked_name": {"type": "string", "description": "First character only, for the cashier to greet."},
            "masked_mobile": {"type": ["string", "null"]},
            "tier": {"type": "object", "required": ["code", "name"], "additionalProperties": False,
                     "properties": {"code": {"type": "string"}, "name": {"type": "string"}}},
            "points": {"type": "integer", "minimum": 0},
            "frozen": {"type": "boolean"},
        },
    },
    "CouponRequest": {
        "type": "object", "additionalProperties": False, "required": ["code"],
        "properties": {"code": {"type": "string", "pattern": COUPON_CODE_PATTERN,
                                "description": "The code in the member's wallet QR, or its 8-character short code."}},
    },
    "CouponOutcome": {
        "type": "object", "additionalProperties": False,
        "required": ["receipt_no", "usable", "discount_minor", "reason", "message", "coupon"],
        "properties": {
            "receipt_no": {"type": "string"},
            "usable": {"type": "boolean"},
            "discount_minor": {"type": "integer", "minimum": 0,
                               "description": "What the coupon takes off the purchase, computed from its lines."},
            "reason": {"type": ["string", "null"], "enum": COUPON_REFUSALS + [None],
                       "description": "Why it can't be used (null when usable)."},
            "message": {"type": "string", "description": "The refusal for the cashier, or empty."},
            "coupon": {"type": ["object", "null"], "additionalProperties": False,
                       "required": ["short_code", "name", "kind", "state", "expires_at"],
                       "properties": {"short_code": {"type": "string"}, "name": {"type": "string"},
                                      "kind": {"type": "string", "enum": ["threshold", "percent", "amount",
                                                                         "free_delivery", "red_packet"]},
                                      "state": {"type": "string",
                                                "enum": ["available", "used", "expired", "cancelled"]},
                                      "expires_at": {"type": "string", "format": "date-time"}}},
        },
    },
    "PurchaseRequest": {
        "type": "object", "additionalProperties": False, "required": ["receipt_no", "amount_minor"],
        "properties": {
            "receipt_no": {"type": "string", "pattern": RECEIPT_PATTERN,
                           "description": "Unique per store: the idempotency key of the earn."},
            "amount_minor": {"type": "integer", "minimum": 1, "maximum": MAX_AMOUNT_MINOR,
                             "description": "Amount paid in minor units (fen)."},
            "member": _ref("MemberRef"),
            "lines": {"type": "array", "minItems": 1, "maxItems": MAX_LINES, "items": _ref("PurchaseLineRequest"),
                      "description": "The receipt's lines; their amount_minor must add up to the purchase's "
                                     "(`invalid_lines` otherwise). Without lines the purchase is one line of the "
                                     "default category. Earning rules apply per line."},
        },
    },
    "PurchaseLineRequest": {
        "type": "object", "additionalProperties": False, "required": ["amount_minor"],
        "properties": {
            "sku": {"type": "string", "maxLength": 40},
            "name": {"type": "string", "maxLength": 120},
            "category": {"type": "string", "pattern": CATEGORY_PATTERN,
                         "description": "A catalogue category or one of the merchant's purchase categories "
                                        "(console); empty for the default category."},
            "quantity": {"type": "integer", "minimum": 1, "maximum": MAX_QUANTITY, "default": 1},
            "amount_minor": {"type": "integer", "minimum": 0, "maximum": MAX_AMOUNT_MINOR,
                             "description": "What the line cost in all, in minor units."},
            "excluded": {"type": "boolean", "default": False,
                         "description": "Never earns (gift cards, tobacco); so does a line of an excluded "
                                        "purchase category."},
        },
    },
    "PurchaseLine": {
        "type": "object", "additionalProperties": False,
        "required": ["line_no", "sku", "name", "category", "quantity", "amount_minor", "excluded", "points",
                     "refunded_quantity", "refunded_points"],
        "properties": {
            "line_no": {"type": "integer", "minimum": 1},
            "sku": {"type": "string"},
            "name": {"type": "string"},
            "category": {"type": "string"},
            "quantity": {"type": "integer", "minimum": 1},
            "amount_minor": {"type": "integer", "minimum": 0},
            "excluded": {"type": "boolean"},
            "points": {"type": "integer", "minimum": 0, "description": "Points this line earned."},
            "refunded_quantity": {"type": "integer", "minimum": 0},
            "refunded_points": {"type": "integer", "minimum": 0,
                                "description": "Of its points, how many refunds took back (or still owe)."},
        },
    },
    "RefundRequest": {
        "type": "object", "additionalProperties": False,
        "description": "Empty (or no body): refund everything not yet refunded. With lines: refund those "
                       "lines and quantities, once per refund_no.",
        "properties": {
            "refund_no": {"type": "string", "pattern": RECEIPT_PATTERN,
                          "description": "The till's refund number: the idempotency key of a partial refund."},
            "lines": {"type": "array", "minItems": 1, "maxItems": MAX_LINES, "items": {
                "type": "object", "additionalProperties": False, "required": ["line_no"],
                "properties": {"line_no": {"type": "integer", "minimum": 1},
                               "quantity": {"type": "integer", "minimum": 1, "maximum": MAX_QUANTITY,
                                            "description": "Units to refund; all the line still holds "
                                                           "without it."}}}},
        },
    },
    "Purchase": {
        "type": "object", "additionalProperties": False,
        "required": ["receipt_no", "store_code", "amount_minor", "status", "points", "member_code",
                     "claim_url", "claim_expires_at", "created_at", "lines"],
        "properties": {
            "receipt_no": {"type": "string"},
            "store_code": {"type": "string"},
            "amount_minor": {"type": "integer"},
            "status": {"type": "string", "enum": ["open", "claimed", "refunded"]},
            "points": {"type": "integer", "minimum": 0, "description": "Points credited for this purchase."},
            "member_code": {"type": ["string", "null"]},
            "claim_url": {"type": ["string", "null"], "description": "While open: the URL to print as the "
                                                                     "receipt QR code."},
            "claim_expires_at": {"type": "string", "format": "date-time"},
            "created_at": {"type": "string", "format": "date-time"},
            "lines": {"type": "array", "items": _ref("PurchaseLine")},
        },
    },
    "Refund": {
        "type": "object", "additionalProperties": False, "required": ["purchase", "reversed_points", "clawback_points"],
        "properties": {
            "purchase": _ref("Purchase"),
            "reversed_points": {"type": "integer", "minimum": 0,
                                "description": "Points taken back from the member's balance now."},
            "clawback_points": {"type": "integer", "minimum": 0,
                                "description": "Points the member had already spent: recorded as a clawback "
                                               "that later earnings settle. The balance never goes negative."},
            "refunded_amount_minor": {"type": "integer", "minimum": 0,
                                      "description": "What this refund gave back, in minor units."},
        },
    },
    "PickupRequest": {
        "type": "object", "additionalProperties": False, "required": ["code"],
        "properties": {
            "code": {"type": "string", "pattern": CODE_PATTERN,
                     "description": "The short code (7K-3QX9PM) or the QR payload (PM1:...)."},
            "cash_method": {"type": "string", "enum": CASH_METHODS,
                            "description": "Required when cash is still due: how it was paid."},
        },
    },
    "PickupOrder": {
        "type": "object", "additionalProperties": False,
        "required": ["order_number", "code", "items", "masked_name", "member_code", "cash_due_minor", "pickup_until"],
        "properties": {
            "order_number": {"type": "string"},
            "code": {"type": "string"},
            "items": {"type": "array", "items": {
                "type": "object", "required": ["name", "quantity"], "additionalProperties": False,
                "properties": {"name": {"type": "string"}, "quantity": {"type": "integer", "minimum": 1}}}},
            "masked_name": {"type": "string"},
            "member_code": {"type": "string"},
            "cash_due_minor": {"type": "integer", "minimum": 0},
            "pickup_until": {"type": "string", "format": "date-time"},
        },
    },
    "Pickup": {
        "type": "object", "additionalProperties": False,
        "required": ["order_number", "store_code", "picked_up_at", "cash_minor", "cash_method"],
        "properties": {
            "order_number": {"type": "string"},
            "store_code": {"type": "string"},
            "picked_up_at": {"type": "string", "format": "date-time"},
            "cash_minor": {"type": "integer", "minimum": 0},
            "cash_method": {"type": ["string", "null"], "enum": CASH_METHODS + [None]},
        },
    },
}


def document(server_url: str = "/api/v1") -> dict:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Point Mall POS API", "version": "1.0.0",
            "description": "Server-to-server API for store tills. Authenticate with the store's API key "
                           "(`Authorization: Bearer pm_live_...`). Errors are JSON with a stable `error.code`.",
        },
        "servers": [{"url": server_url}],
        "security": [{"apiKey": []}],
        "paths": {
            "/members": {"get": {
                "operationId": "lookupMember", "summary": "Look a member up by mobile number or member code",
                "parameters": [
                    {"name": "mobile", "in": "query", "schema": {"type": "string", "pattern": MOBILE_PATTERN}},
                    {"name": "member_code", "in": "query",
                     "schema": {"type": "string", "pattern": MEMBER_CODE_PATTERN}},
                ],
                "responses": {"200": _ok("The member, masked for the counter.", "Member"),
                              "400": _error("Neither or both of mobile and member_code (`validation_error`)."),
                              "404": _error("No such member (`member_not_found`)."), **COMMON_ERRORS},
            }},
            "/purchases": {"post": {
                "operationId": "earnForPurchase",
                "summary": "Record a purchase: credit the named member now, or get a receipt QR URL to print",
                "description": "Idempotent by store + receipt number: a retry returns the first result with 200.",
                "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("PurchaseRequest")}}},
                "responses": {
                    "201": _ok("Recorded (and credited when a member was named).", "Purchase"),
                    "200": _ok("The same receipt again: the first result, nothing credited twice.", "Purchase"),
                    "400": _error("The body does not match the schema (`validation_error`), or the lines don't "
                                  "add up to amount_minor or name an unknown category (`invalid_lines`)."),
                    "404": _error("The named member does not exist (`member_not_found`)."),
                    "409": _error("The receipt number was used with another amount or member "
                                  "(`receipt_conflict`), the purchase was refunded (`purchase_refunded`) "
                                  "or the member is frozen (`member_frozen`)."),
                    **COMMON_ERRORS},
            }},
            "/purchases/{receipt_no}/refund": {"post": {
                "operationId": "refundPurchase", "summary": "Refund a purchase, or some of its lines, and "
                                                            "reverse their points",
                "description": "Idempotent: a second call (the same refund_no for a partial refund) returns the "
                               "first outcome. Per line, the points coming back are the line's remaining points "
                               "× units refunded ÷ units it still holds, rounded down; its last unit gives back "
                               "the rest. Points the member already spent are recorded as a clawback; the "
                               "balance never goes negative.",
                "parameters": [{"name": "receipt_no", "in": "path", "required": True,
                                "schema": {"type": "string", "pattern": RECEIPT_PATTERN}}],
                "requestBody": {"required": False,
                                "content": {"application/json": {"schema": _ref("RefundRequest")}}},
                "responses": {"200": _ok("Refunded.", "Refund"),
                              "400": _error("The receipt number or the body is not in the expected format "
                                            "(`validation_error`), or a line is unknown or has fewer units "
                                            "left (`invalid_lines`)."),
                              "409": _error("The refund number was used for other lines (`refund_conflict`) "
                                            "or the purchase is already refunded in full (`purchase_refunded`)."),
                              "404": _error("No purchase with that receipt number at this store "
                                            "(`purchase_not_found`)."),
                              **COMMON_ERRORS},
            }},
            "/purchases/{receipt_no}/coupons/check": {"post": {
                "operationId": "checkCoupon", "summary": "What a coupon or red packet would take off a purchase",
                "description": "Computed from the purchase's lines not yet refunded (eligible categories, "
                               "threshold, percent and cap). Writes nothing; a coupon that can't be used answers "
                               "200 with usable false and the reason.",
                "parameters": [{"name": "receipt_no", "in": "path", "required": True,
                                "schema": {"type": "string", "pattern": RECEIPT_PATTERN}}],
                "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("CouponRequest")}}},
                "responses": {"200": _ok("The discount, or why the coupon can't be used.", "CouponOutcome"),
                              "400": _error("The receipt number or the body is not in the expected format "
                                            "(`validation_error`)."),
                              "404": _error("No purchase with that receipt number at this store "
                                            "(`purchase_not_found`)."),
                              "409": _error("The purchase was refunded (`purchase_refunded`)."),
                              **COMMON_ERRORS},
            }},
            "/purchases/{receipt_no}/coupons": {"post": {
                "operationId": "spendCoupon", "summary": "Spend a coupon or red packet on a purchase",
                "description": "Idempotent per receipt and code: the same call again answers 200 with the first "
                               "discount. A coupon is spent once, even when two tills present it at the same "
                               "moment. A full refund of the purchase gives it back while it is still valid.",
                "parameters": [{"name": "receipt_no", "in": "path", "required": True,
                                "schema": {"type": "string", "pattern": RECEIPT_PATTERN}}],
                "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("CouponRequest")}}},
                "responses": {"201": _ok("Spent: the discount to take off.", "CouponOutcome"),
                              "200": _ok("Already spent on this purchase: the first answer.", "CouponOutcome"),
                              "400": _error("The receipt number or the body is not in the expected format "
                                            "(`validation_error`)."),
                              "404": _error("No purchase with that receipt number at this store "
                                            "(`purchase_not_found`) or no such coupon (`coupon_not_found`)."),
                              "409": _error("The purchase was refunded (`purchase_refunded`), or the coupon can't "
                                            "be used (`coupon_refused`, details.reason: used, expired, "
                                            "below_threshold, not_eligible, other_store...)."),
                              **COMMON_ERRORS},
            }},
            "/pickups/{code}": {"get": {
                "operationId": "previewPickup", "summary": "What a pickup code hands over, and any cash due",
                "parameters": [{"name": "code", "in": "path", "required": True,
                                "schema": {"type": "string", "pattern": CODE_PATTERN}}],
                "responses": {"200": _ok("The order, ready to hand over here.", "PickupOrder"),
                              "400": _error("The code is not in the expected format (`validation_error`)."),
                              "403": _error("Not to be handed over at this store (`wrong_store`)."),
                              "409": _error("Already picked up (`already_picked_up`, with details), not ready "
                                            "(`not_ready`) or the member is frozen (`member_frozen`)."),
                              "422": _error("Forged, mistyped or tampered (`invalid_code`), or expired "
                                            "(`code_expired`)."),
                              **COMMON_ERRORS},
            }},
            "/pickups": {"post": {
                "operationId": "redeemPickup", "summary": "Hand an order over: redeem its pickup code once",
                "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("PickupRequest")}}},
                "responses": {"201": _ok("Handed over.", "Pickup"),
                              "400": _error("The body does not match the schema (`validation_error`)."),
                              "403": _error("Not to be handed over at this store (`wrong_store`)."),
                              "409": _error("Already picked up (`already_picked_up`, with where, when and by "
                                            "whom), not ready (`not_ready`) or the member is frozen "
                                            "(`member_frozen`)."),
                              "422": _error("Forged or tampered (`invalid_code`), expired (`code_expired`), or "
                                            "cash is due and `cash_method` is missing (`cash_method_required`)."),
                              **COMMON_ERRORS},
            }},
        },
        "components": {
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer",
                                           "description": "The store's API key, from the store API keys page."}},
            "schemas": SCHEMAS,
        },
    }
