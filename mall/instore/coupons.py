"""Coupons and red packets at the till: check one against a purchase's lines, and spend it
on that purchase (issue 13). The discount is computed from the purchase's open lines by the
one function the mall uses too (mall/wallet/pricing.py); the spend is idempotent per receipt
and code, and once only under concurrent use (mall/wallet/redeem.py). A full refund of the
purchase gives the coupon back (refund_purchase gives it back); a partial refund
keeps it spent (the rest of the purchase still had the discount).

A coupon is a bearer voucher at the till: whoever shows its QR or short code may use it, as
with a paper voucher; a purchase is the store's own receipt (the API key names the store).
"""
from datetime import datetime

from ..wallet import redeem
from ..wallet.pricing import Line
from .errors import PurchaseNotFound, PurchaseRefunded
from .models import Purchase, PurchaseStatus
from .purchases import find_purchase


def purchase_lines(purchase: Purchase) -> list[Line]:
    """What a coupon may reduce: each line's amount not yet refunded, by its category slug."""
    return [Line(amount_minor=line.open_amount_minor, category_slug=line.category)
            for line in purchase.lines if line.open_amount_minor > 0]


def _purchase(store_id: int, receipt_no: str, *, lock: bool = False) -> Purchase:
    purchase = find_purchase(store_id, receipt_no, lock=lock)
    if purchase is None:
        raise PurchaseNotFound()
    if purchase.status == PurchaseStatus.REFUNDED:
        raise PurchaseRefunded()
    return purchase


def check_coupon(store_id: int, receipt_no: str, code: str, *, now: datetime) -> redeem.Redemption:
    """What the coupon would take off this purchase, or why it can't be used. Writes nothing.
    Raises PurchaseNotFound, PurchaseRefunded."""
    purchase = _purchase(store_id, receipt_no)
    item = redeem.find(code)
    if item is None:
        return redeem.Redemption(None, redeem.Discount(refusal="not_found"))
    return redeem.Redemption(item, redeem.check(item, purchase_lines(purchase), now, store_id=store_id,
                                                purchase_id=purchase.id))


def spend_coupon(store_id: int, receipt_no: str, code: str, *, now: datetime,
                 actor_id: int | None = None) -> redeem.Redemption:
    """Spend the coupon on this purchase. The same receipt and code again: the first answer.
    Raises PurchaseNotFound, PurchaseRefunded (nothing written).

    The purchase's row is locked first: two tills spending two coupons on one receipt queue
    on it, so the second sees the first in the stacking rules (one-per-purchase coupons can't
    both pass), and a refund running at once either sees the coupon to give back or comes
    first and leaves a refunded purchase that refuses it."""
    purchase = _purchase(store_id, receipt_no, lock=True)
    return redeem.spend(code, purchase_lines(purchase), now, store_id=store_id, purchase_id=purchase.id,
                        actor_id=actor_id)
