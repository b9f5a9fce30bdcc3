"""The store counter (store_staff), the member's receipt-QR landing and pickup status, and
the POS API keys page (HQ, merchandisers)."""
from flask import Blueprint, abort, current_app, request, url_for
from flask_babel import gettext as _
from flask_limiter import RateLimitExceeded
from flask_login import current_user

from ..accounts.models import Role
from ..checkout.forms import ConfirmForm as OrderForm
from ..checkout.models import Order
from ..checkout.orders import member_order
from ..clock import now
from ..errors import DomainError, NotFound
from ..extensions import db, limiter
from ..origin import public_url, request_origin
from ..risk.services import EarningTooFast
from ..templating import localized
from ..points.models import LedgerEntry
from ..points.statement import balance
from ..web import bounded_int, int_arg, no_store, redirect_to, render, roles_required
from . import api_keys, pickups, purchases, receipts, staffing
from .categories import known_categories
from .codes import qr_svg, receipt_token
from .errors import CashMethodNeeded, InvalidCode
from .forms import (ApiKeyForm, ConfirmForm, HandOverForm, MemberLookupForm, PickupCodeForm, PurchaseForm,
                    StaffBindForm, cash_method_choices)
from .services import lookup_member

bp = Blueprint("instore", __name__)


def _cfg(name):
    return current_app.config[name]


def _staff_key() -> str:
    return f"staff:{current_user.id}" if current_user.is_authenticated else f"ip:{request.remote_addr}"


def _member_key() -> str:
    return f"member:{current_user.id}" if current_user.is_authenticated else f"ip:{request.remote_addr}"


code_entry_limit = limiter.shared_limit(lambda: _cfg("MALL_CODE_ENTRY_RATE_LIMIT"), key_func=_staff_key,
                                 scope="code-entry")
earn_limit = limiter.shared_limit(lambda: _cfg("MALL_EARN_RATE_LIMIT"), key_func=_staff_key, scope="earn")
claim_limit = limiter.shared_limit(lambda: _cfg("MALL_EARN_RATE_LIMIT"), key_func=_member_key, scope="claim")


@bp.errorhandler(RateLimitExceeded)
def too_many(error):
    """Over a limit: the counter card that was used says so next to its field (counter.js
    lets HTMX swap this 429); other pages get the error page."""
    message = _("Too many tries in a short time. Wait a minute, then try again.")
    store_id = _int(request.values.get("store"))
    if request.endpoint in ("instore.pickup_lookup", "instore.hand_over"):
        code_form = PickupCodeForm(formdata=None, code=request.values.get("code", ""), store=store_id)
        code_form.code.errors = [message]
        return render("instore/counter.html", "instore/_counter_pickup.html", status=429,
                      **_counter_context(store_id, code_form=code_form))
    if request.endpoint == "instore.create_purchase":
        purchase_form = PurchaseForm()
        purchase_form.receipt_no.errors = [message]
        return render("instore/counter.html", "instore/_receipt.html", status=429,
                      **_counter_context(store_id, purchase_form=purchase_form))
    return render("errors/error.html", status=429, code=429)


def _counter_context(store_id: int | None = None, **context):
    stores = pickups.staff_stores(current_user.id)
    store = next((s for s in stores if s.id == store_id), stores[0] if stores else None)
    context.setdefault("form", MemberLookupForm(formdata=None))
    context.setdefault("code_form", PickupCodeForm(formdata=None))
    context.setdefault("purchase_form", PurchaseForm(formdata=None))
    context.setdefault("hand_form", HandOverForm(formdata=None))
    return dict(stores=stores, store=store, method_labels=dict(cash_method_choices()), **context)


@bp.route("/counter")
@roles_required(Role.STORE_STAFF)
def counter():
    form = MemberLookupForm(request.args)
    member, status = None, 200
    if "q" in request.args and form.validate():
        try:
            member = lookup_member(form.q.data, now())
        except NotFound:
            form.q.errors.append(str(NotFound.message))
            status = 404
    elif "q" in request.args:
        status = 422
    return render("instore/counter.html", "instore/_member.html", member=member, status=status,
                  **_counter_context(bounded_int(request.args.get("store")), form=form))


@bp.route("/counter/pickup")
@roles_required(Role.STORE_STAFF)
@code_entry_limit
@no_store
def pickup_lookup():
    """Look an order up by its code: what to hand over and any cash still due."""
    form = PickupCodeForm(request.args)
    found, status = None, 200
    if form.validate():
        try:
            store = pickups.check_staff_store(current_user.id, form.store.data)
            found = pickups.find_for_counter(form.code.data, store_id=store.id, now=now(),
                                             pickup_days=_cfg("MALL_PICKUP_DAYS"))
        except DomainError as exc:
            form.code.errors, status = [*form.code.errors, str(exc.message)], _status_for(exc)
    else:
        status = 422
    return render("instore/counter.html", "instore/_counter_pickup.html", status=status, found=found,
                  **_counter_context(form.store.data, code_form=form))


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _status_for(exc: DomainError) -> int:
    return 409 if getattr(exc, "code", None) == "already_picked_up" else 422


@bp.route("/counter/pickup", methods=["POST"])
@roles_required(Role.STORE_STAFF)
@code_entry_limit
@no_store
def hand_over():
    """One tap redeems: the order is picked up, the cash taken is recorded."""
    form = HandOverForm()
    store_id = _int(form.store.data)
    code_form = PickupCodeForm(formdata=None, code=form.code.data, store=store_id)
    handed, found, status = None, None, 200
    try:
        if not form.validate():
            raise InvalidCode()
        store = pickups.check_staff_store(current_user.id, store_id)
        handed = pickups.hand_over(form.code.data, store_id=store.id, now=now(), pickup_days=_cfg("MALL_PICKUP_DAYS"),
                                   staff_id=current_user.id, cash_method=form.cash_method.data or None)
    except CashMethodNeeded as exc:
        form.cash_method.errors, status = [str(exc.message)], 422
        found = pickups.find_for_counter(form.code.data, store_id=store_id, now=now(),
                                         pickup_days=_cfg("MALL_PICKUP_DAYS"))
    except DomainError as exc:
        code_form.code.errors, status = [str(exc.message)], _status_for(exc)
    if handed is not None:
        code_form.code.data = ""  # ready for the next customer
    return render("instore/counter.html", "instore/_counter_pickup.html", status=status, found=found,
                  handed=handed, **_counter_context(store_id, code_form=code_form, hand_form=form))


@bp.route("/counter/purchases", methods=["POST"])
@roles_required(Role.STORE_STAFF)
@earn_limit
def create_purchase():
    """Record a till purchase and show its receipt QR for the member to scan."""
    form = PurchaseForm()
    purchase, status = None, 200
    store_id = bounded_int(request.form.get("store"))
    if form.validate():
        try:
            store = pickups.check_staff_store(current_user.id, store_id)
            purchase, _created = purchases.create_purchase(
                store.id, form.receipt_no.data, form.amount_minor(), now=now(),
                code_hours=_cfg("MALL_RECEIPT_CODE_HOURS"), created_by_id=current_user.id, lines=form.line_inputs())
        except DomainError as exc:
            field = getattr(form, exc.field or "", None) or form.receipt_no
            field.errors = [*field.errors, str(exc.message)]
            status = 422
    else:
        status = 422
    receipt = _receipt_view(purchase) if purchase else None
    return render("instore/counter.html", "instore/_receipt.html", status=status, receipt=receipt,
                  **_counter_context(store_id, purchase_form=form))


def _receipt_view(purchase):
    url = public_url("instore.claim", token=receipt_token(purchase.id))
    # A line with neither name nor SKU is shown by its category: its name, not its slug.
    unnamed = {line.category for line in purchase.lines if line.category and not (line.name or line.sku)}
    known = known_categories() if unnamed else {}
    names = {slug: localized(known[slug], "name") for slug in unnamed if slug in known}
    return {"purchase": purchase, "url": url, "svg": qr_svg(url), "category_names": names}


@bp.route("/r/<token>")
@roles_required(Role.MEMBER)
@claim_limit
def claim(token: str):
    """The member scanned a receipt QR: credit its points once, and say how many and why."""
    result, error, status = None, None, 200
    ip, device = request_origin()
    try:
        result = purchases.claim_receipt(token, current_user.id, now=now(), device=device, ip=ip,
                                         minor_per_point=_cfg("MALL_EARN_BASE_MINOR_PER_POINT"))
    except EarningTooFast as exc:  # risk control: nothing was credited, the receipt stays claimable
        error, status = str(exc.message), 429
    except DomainError as exc:
        error, status = str(exc.message), (409 if exc.code in ("claimed_by_another_member", "purchase_refunded")
                                          else 410 if exc.code == "code_expired" else 404)
    entry = None
    if result is not None and result.purchase.earn_entry_id:
        entry = db.session.get(LedgerEntry, result.purchase.earn_entry_id)
    return render("instore/claim.html", status=status, result=result, entry=entry, error=error,
                  balance=balance(current_user.id, now()).points)


@bp.route("/purchases/<int:purchase_id>")
@roles_required(Role.MEMBER)
def receipt(purchase_id: int):
    """The member's own store purchase: lines, coupons, points and refunds. Another member's
    purchase is no such page (404), never "not yours" (403), so ids can't be probed."""
    try:
        shown = receipts.member_receipt(purchase_id, current_user.id, now=now())
    except NotFound:
        abort(404)
    return render("instore/receipt.html", receipt=shown)


def receipt_url(entry) -> str | None:
    """Template helper: the receipt page of the purchase a statement line belongs to."""
    purchase_id = receipts.purchase_id_of(entry)
    return url_for("instore.receipt", purchase_id=purchase_id) if purchase_id else None


bp.add_app_template_global(receipt_url)


@bp.route("/orders/<int:order_id>/pickup-status")
@roles_required(Role.MEMBER)
@no_store
def pickup_status(order_id: int):
    """Polled by the member's order page while the order waits at the store."""
    try:
        order = member_order(order_id, current_user.id)
    except NotFound:
        abort(404)
    return render("instore/_pickup_poll.html", order=order, now=now(), form=OrderForm())


def pickup_panel_for(order: Order):
    """Template helper for the order page's pickup panel (read only)."""
    return pickups.pickup_panel(order, now(), pickup_days=_cfg("MALL_PICKUP_DAYS"))


@bp.app_context_processor
def pickup_helpers():
    return {"pickup_panel_for": pickup_panel_for}


# --- POS API keys (HQ and merchandisers) --------------------------------------------------

def _keys_page(form, status=200, new_key=None):
    keys, page, pages = api_keys.list_keys(int_arg("page"))
    return render("instore/api_keys.html", status=status, form=form, keys=keys, page=page, pages=pages,
                  new_key=new_key, revoke_form=ConfirmForm())


def _key_form(formdata=None):
    form = ApiKeyForm(formdata) if formdata is not None else ApiKeyForm()
    form.store_id.choices = [(s.id, s.name) for s in api_keys.all_stores()]
    return form


@bp.route("/store-admin/api-keys")
@roles_required(Role.HQ, Role.MERCHANDISER)
def api_key_list():
    return _keys_page(_key_form(formdata={}))


@bp.route("/store-admin/api-keys", methods=["POST"])
@roles_required(Role.HQ, Role.MERCHANDISER)
def api_key_create():
    form = _key_form()
    if not form.validate():
        return _keys_page(form, status=422)
    try:
        new_key = api_keys.create_key(form.store_id.data, form.name.data, actor_id=current_user.id, now=now())
    except DomainError as exc:
        getattr(form, exc.field or "name").errors.append(str(exc.message))
        return _keys_page(form, status=422)
    # Rendered, not redirected: the secret is shown this once and never stored anywhere.
    return _keys_page(_key_form(formdata={}), new_key=new_key)


@bp.route("/store-admin/api-keys/<int:key_id>/revoke", methods=["POST"])
@roles_required(Role.HQ, Role.MERCHANDISER)
def api_key_revoke(key_id: int):
    if not ConfirmForm().validate():
        abort(400)
    try:
        api_keys.revoke_key(key_id, actor_id=current_user.id, now=now())
    except NotFound:
        abort(404)
    return redirect_to(url_for("instore.api_key_list"))



# --- which stores each staff account works at (HQ) -----------------------------------------

def _staff_page(form, status=200, error=None):
    rows, page, pages = staffing.list_staff(int_arg("page"))
    return render("instore/staff.html", status=status, form=form, rows=rows, page=page, pages=pages,
                  error=error, unbind_form=ConfirmForm())


def _bind_form(formdata=None):
    form = StaffBindForm(formdata) if formdata is not None else StaffBindForm()
    form.staff_id.choices = [(u.id, f"{u.display_name} ({u.email or u.mobile})") for u in staffing.all_staff()]
    form.store_id.choices = [(s.id, s.name) for s in api_keys.all_stores()]
    return form


@bp.route("/store-admin/staff")
@roles_required(Role.HQ)
def staff_list():
    return _staff_page(_bind_form(formdata={}))


@bp.route("/store-admin/staff", methods=["POST"])
@roles_required(Role.HQ)
def staff_bind():
    form = _bind_form()
    if not form.validate():
        return _staff_page(form, status=422)
    try:
        staffing.bind(form.staff_id.data, form.store_id.data, actor_id=current_user.id, now=now())
    except DomainError as exc:
        getattr(form, exc.field or "staff_id").errors.append(str(exc.message))
        return _staff_page(form, status=422)
    return redirect_to(url_for("instore.staff_list"))


@bp.route("/store-admin/staff/<int:staff_id>/stores/<int:store_id>/unbind", methods=["POST"])
@roles_required(Role.HQ)
def staff_unbind(staff_id: int, store_id: int):
    if not ConfirmForm().validate():
        abort(400)
    try:
        staffing.unbind(staff_id, store_id, actor_id=current_user.id, now=now())
    except DomainError as exc:
        return _staff_page(_bind_form(formdata={}), status=422, error=str(exc.message))
    return redirect_to(url_for("instore.staff_list"))
