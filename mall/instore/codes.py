"""Signed codes for the counter: pickup codes and receipt QR tokens, and their QR pictures.

Pickup codes are derived, not stored: an HMAC of the order's id and number under a key
derived from SECRET_KEY. The QR carries 130 bits of it (`PM1:<id>:<mac>`); the short code
a person can read out or type carries 30 bits (`<id>-<mac>`), which is enough because code
entry is rate-limited and a wrong guess redeems nothing. Both name the order, so a code
can't be moved to another order (tampering breaks the MAC), and whether it was already
used, where it may be used and until when are read from the database, which decides.

Receipt tokens are itsdangerous-signed purchase ids; the purchase row holds the expiry
and the member it was claimed by.
"""
import hashlib
import hmac
from dataclasses import dataclass
from functools import lru_cache

import segno
from itsdangerous import BadSignature, URLSafeSerializer

from ..settings import current as current_settings

# Crockford's base32: no I, L, O or U, so a code read aloud or typed can't be misread.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
SHORT_MAC = 6
QR_MAC = 26
QR_PREFIX = "PM1"
_TYPING_FIXES = str.maketrans({"O": "0", "I": "1", "L": "1", "U": "V"})


def _b32(value: int) -> str:
    digits = ""
    while True:
        value, rest = divmod(value, 32)
        digits = ALPHABET[rest] + digits
        if value == 0:
            return digits


def _from_b32(text: str) -> int | None:
    value = 0
    for char in text:
        position = ALPHABET.find(char)
        if position < 0:
            return None
        value = value * 32 + position
    return value


def _key(purpose: str) -> bytes:
    secret = current_settings().secret_key.encode()
    return hmac.new(secret, f"mall.instore.{purpose}".encode(), hashlib.sha256).digest()


def _order_mac(order_id: int, order_number: str) -> str:
    digest = hmac.new(_key("pickup"), f"{order_id}:{order_number}".encode(), hashlib.sha256).digest()
    bits = int.from_bytes(digest[:20], "big")  # 160 bits = 32 base32 characters
    return _b32(bits).rjust(32, "0")


@dataclass(frozen=True)
class PickupCode:
    short: str      # 7K-3QX9PM: shown in large type, typed at the counter
    qr_text: str    # PM1:7K:<26 characters>: what the QR code holds


def pickup_code(order_id: int, order_number: str) -> PickupCode:
    mac, ident = _order_mac(order_id, order_number), _b32(order_id)
    return PickupCode(short=f"{ident}-{mac[:SHORT_MAC]}", qr_text=f"{QR_PREFIX}:{ident}:{mac[:QR_MAC]}")


@dataclass(frozen=True)
class ParsedCode:
    order_id: int
    mac: str


def parse_pickup_code(text: str) -> ParsedCode | None:
    """Read a typed short code or a scanned QR payload; None when it can't be a code at all.
    The MAC is checked against the order by `verify_pickup_code`, which needs its number."""
    raw = "".join((text or "").split()).upper()
    if raw.startswith(QR_PREFIX + ":"):
        parts = raw.split(":")
        if len(parts) != 3 or len(parts[2]) != QR_MAC:
            return None
        ident, mac = parts[1], parts[2]
    else:
        parts = raw.translate(_TYPING_FIXES).split("-")
        if len(parts) != 2 or len(parts[1]) != SHORT_MAC:
            return None
        ident, mac = parts
    order_id = _from_b32(ident.translate(_TYPING_FIXES)) if ident else None
    if not order_id or len(ident) > 8 or any(c not in ALPHABET for c in mac):
        return None
    return ParsedCode(order_id=order_id, mac=mac)


def verify_pickup_code(parsed: ParsedCode, order_number: str) -> bool:
    expected = _order_mac(parsed.order_id, order_number)[:len(parsed.mac)]
    return hmac.compare_digest(expected, parsed.mac)


def _receipts() -> URLSafeSerializer:
    return URLSafeSerializer(current_settings().secret_key, salt="mall.instore.receipt")


def receipt_token(purchase_id: int) -> str:
    return _receipts().dumps(purchase_id)


def read_receipt_token(token: str) -> int | None:
    """The purchase id a receipt token names, or None when forged or tampered with."""
    try:
        value = _receipts().loads(token or "")
    except BadSignature:
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def api_key_hash(secret: str) -> str:
    """Keys are 160 random bits, so one SHA-256 is enough (no slow password hash): a leaked
    table gives nothing to guess from. Not keyed by SECRET_KEY, so rotating it keeps POS keys."""
    return hashlib.sha256(secret.encode()).hexdigest()


@lru_cache(maxsize=512)
def qr_svg(text: str) -> str:
    """An inline SVG QR code, scaled by CSS. High error correction survives a cracked
    phone screen or a crumpled receipt; dark-on-white with a quiet zone, as scanners need."""
    qr = segno.make(text, error="h" if len(text) < 60 else "m", micro=False)
    return qr.svg_inline(scale=1, border=4, dark="#000", light="#fff", omitsize=True, svgclass="qr")
