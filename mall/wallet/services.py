"""What a member sees of their wallet: the items per tab, one item, and its conditions in
words. Reads only (the issue, spend and expiry services write)."""
from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, func, or_, select

from ..catalog.models import Category
from ..errors import NotFound
from ..extensions import db
from ..pagination import Page, paginate
from ..templating import localized, money
from .models import ItemKind, ItemSource, ItemState, WalletItem

TABS = ("available", "used", "expired")
PER_PAGE = 20


def _tab_filter(tab: str, now: datetime):
    """available: spendable now; used; expired: expired or cancelled, or past its expiry
    before the expiry job has marked it."""
    if tab == "used":
        return WalletItem.state == ItemState.USED.value
    if tab == "expired":
        return or_(WalletItem.state.in_((ItemState.EXPIRED.value, ItemState.CANCELLED.value)),
                   and_(WalletItem.state == ItemState.AVAILABLE.value, WalletItem.expires_at <= now))
    return and_(WalletItem.state == ItemState.AVAILABLE.value, WalletItem.expires_at > now)


@dataclass(frozen=True)
class Wallet:
    tab: str
    items: Page
    counts: dict  # tab -> how many


def member_wallet(account_id: int, tab: str, now: datetime, page: int = 1) -> Wallet:
    tab = tab if tab in TABS else "available"
    order = (WalletItem.expires_at.asc(), WalletItem.id) if tab == "available" else \
        (WalletItem.issued_at.desc(), WalletItem.id.desc())
    items = paginate(select(WalletItem).where(WalletItem.account_id == account_id, _tab_filter(tab, now))
                     .order_by(*order), page, PER_PAGE)
    counts = {t: db.session.scalar(select(func.count()).select_from(WalletItem).where(
        WalletItem.account_id == account_id, _tab_filter(t, now))) for t in TABS}
    return Wallet(tab, items, counts)


def member_item(item_id: int, account_id: int) -> WalletItem:
    item = db.session.get(WalletItem, item_id)
    if item is None or item.account_id != account_id:
        raise NotFound()
    return item


def shown_state(item: WalletItem, now: datetime) -> str:
    if item.state == ItemState.AVAILABLE.value and item.expires_at <= now:
        return ItemState.EXPIRED.value
    return item.state


def headline(item: WalletItem) -> str:
    """The value in a few words: "¥20 off", "15% off", "Free delivery"."""
    if item.kind == ItemKind.PERCENT.value:
        return str(_l("%(pct)s%% off", pct=item.percent))
    if item.kind == ItemKind.FREE_DELIVERY.value:
        return str(_l("Free delivery"))
    return str(_l("%(amount)s off", amount=money(item.value_minor)))


def conditions(item: WalletItem) -> list[str]:
    """Its conditions in words, in the reader's language (render time)."""
    out = []
    if item.kind == ItemKind.THRESHOLD.value:
        out.append(str(_l("Spend %(threshold)s, save %(value)s.", threshold=money(item.threshold_minor),
                          value=money(item.value_minor))))
    elif item.kind == ItemKind.PERCENT.value:
        out.append(str(_l("%(pct)s%% off eligible items.", pct=item.percent)))
        if item.cap_minor:
            out.append(str(_l("Saves at most %(cap)s.", cap=money(item.cap_minor))))
        if item.threshold_minor:
            out.append(str(_l("On a spend of %(threshold)s or more.", threshold=money(item.threshold_minor))))
    elif item.kind == ItemKind.FREE_DELIVERY.value:
        out.append(str(_l("Waives the delivery fee.")))
    else:
        out.append(str(_l("%(value)s off, no minimum spend.", value=money(item.value_minor))))
    if item.category_ids:
        names = [localized(c, "name") for c in db.session.scalars(
            select(Category).where(Category.id.in_(item.category_ids)).order_by(Category.position))]
        out.append(str(_l("Only on: %(categories)s.", categories=", ".join(names))))
    if item.store_id is not None:
        out.append(str(_l("Only at one store.")))
    out.append(str(_l("Can be combined with other coupons.") if item.stacks_with else
                   _l("One coupon per order or purchase.")))
    out.append(str(_l("In store: show the QR code or tell the cashier the short code. Online: enter the "
                      "short code at checkout.")))
    return out


def used_on_order(order_id: int) -> list[WalletItem]:
    """The coupons and red packets spent on a mall order (its page shows them)."""
    return list(db.session.scalars(select(WalletItem).where(WalletItem.order_id == order_id).order_by(WalletItem.id)))


def used_on_purchase(purchase_id: int) -> list[WalletItem]:
    """The coupons and red packets spent at the till on a store purchase (its receipt page
    shows them). A full refund gives them back, which clears the link: none are listed then."""
    return list(db.session.scalars(select(WalletItem).where(WalletItem.purchase_id == purchase_id)
                                   .order_by(WalletItem.used_at, WalletItem.id)))


def bought_on_order(order_id: int) -> list[WalletItem]:
    """The coupons and red packets a fulfilled coupon/red-packet order put in the wallet
    (wallet.receivers: source "points", source_ref "order:<id>"); its page links to them."""
    return list(db.session.scalars(select(WalletItem).where(
        WalletItem.source == ItemSource.POINTS.value, WalletItem.source_ref == f"order:{order_id}")
        .order_by(WalletItem.seq)))
