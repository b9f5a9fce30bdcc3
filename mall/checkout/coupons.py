"""A coupon or red packet on a mall order (issue 13): it reduces the cash part of a
points + cash order, priced by the one discount function (mall/wallet/pricing.py) for the
quote the member sees and for the order that charges it, and is spent in the order's own
transaction (mall/wallet/redeem.py: row lock + conditional UPDATE). The discount is shared
over the eligible lines' cash by the one rounding rule (mall/proportion.split), so each
line's cash and the order's total still add up. A cancelled, expired or refunded order gives
the coupon back while it is valid (wallet's receiver of order_changed).

Only used when the member gives a code: an order without one runs no query of this module.
"""
from dataclasses import dataclass, replace
from datetime import datetime

from ..errors import DomainError
from ..proportion import split
from ..wallet import redeem
from ..wallet.pricing import Line, eligible_weights, refusal_message
from ..wallet.services import used_on_order


def coupon_given_back(order) -> bool:
    """Was a coupon taken off this order's cash and given back since (an order that expired
    or whose payment failed)? The order keeps the discount it was priced with; the wallet
    shows the coupon on the order only while it is spent there."""
    return order.coupon_discount_minor > 0 and not used_on_order(order.id)


class CouponRefused(DomainError):
    field = "coupon"


@dataclass(frozen=True)
class CouponUse:
    item_id: int
    code: str
    name: str
    discount_minor: int
    gross: tuple = ()   # the lines before the discount (what the spend is priced on again)


def _lines(totals) -> list[Line]:
    return [Line(amount_minor=l.quote.cash_minor, category_id=l.item.category_id) for l in totals.lines]


def apply_coupon(member_id: int, totals, code: str, now: datetime):
    """`totals` (quotes.Totals) with the member's coupon taken off the cash, or CouponRefused
    with the reason (used, expired, below the threshold, nothing eligible...)."""
    item = redeem.find(code)
    if item is None or item.account_id != member_id:
        raise CouponRefused(refusal_message("not_found"))
    lines = _lines(totals)
    discount = redeem.check(item, lines, now)
    if not discount.ok:
        raise CouponRefused(discount.message)
    if discount.discount_minor <= 0:
        raise CouponRefused(refusal_message("not_eligible"))
    cuts = split(discount.discount_minor, eligible_weights(item, lines))
    priced = [replace(l, quote=replace(l.quote, cash_minor=l.quote.cash_minor - cut))
              for l, cut in zip(totals.lines, cuts)]
    return replace(totals, lines=priced, cash_minor=totals.cash_minor - discount.discount_minor,
                   coupon=CouponUse(item.id, code, item.name, discount.discount_minor, tuple(lines)))


def spend_on_order(order, member_id: int, totals, now: datetime) -> None:
    """Spend the quoted coupon on the order just written (same transaction). The lines are
    the gross ones (before the discount), so the figure is the quote's; a coupon spent
    elsewhere meanwhile refuses the whole order."""
    use = totals.coupon
    done = redeem.spend(use.code, list(use.gross), now, order_id=order.id, account_id=member_id, actor_id=member_id)
    if not done.ok or done.discount.discount_minor != use.discount_minor:
        raise CouponRefused(done.discount.message or refusal_message("used"))
    order.coupon_discount_minor = use.discount_minor

