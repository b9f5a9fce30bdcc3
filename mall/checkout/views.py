from flask import Blueprint, abort, current_app, flash, redirect, request, session, url_for
from flask_babel import get_locale, gettext as _
from flask_login import current_user

from ..accounts.models import Role
from ..bookings import services as bookings
from ..bookings.forms import RightConfirmForm, SlotChoiceForm
from ..catalog.models import Item
from ..catalog.substitutes import offers_for
from ..catalog.views import viewer
from ..clock import now
from ..errors import DomainError, LockUnavailable, NotFound
from ..extensions import csrf, db
from ..origin import request_origin
from ..presale.availability import check_not_reserved
from ..presale.services import offer_choices
from ..risk.services import screen_order
from ..unit_of_work import after_commit
from ..wallet.services import bought_on_order, used_on_order
from ..web import MAX_INT, has_control_characters, int_arg, no_store, redirect_to, render, roles_required, wants_fragment
from . import cart, orders, payments
from .coupons import apply_coupon
from .forms import CheckoutForm, ConfirmForm, PlanForm, QuantityForm
from .gateway import gateway_for
from .notes import order_note
from .quotes import LineRequest, item_with_plans, plan_options, price, quote_or_none

bp = Blueprint("checkout", __name__)
MEMBER = Role.MEMBER
bp.add_app_template_global(order_note)


@bp.app_template_global()
def line_name(line) -> str:
    """An order line's item in the reader's language: the item's Chinese name when reading
    Chinese, else the name as it was when ordered."""
    if str(get_locale()).startswith("zh"):
        item = db.session.get(Item, line.item_id)
        if item is not None and item.name_zh:
            return item.name_zh
    return line.item_name


def _cfg(name):
    return current_app.config[name]


def _place_args():
    return dict(hold_minutes=_cfg("MALL_HOLD_MINUTES"), card_payments=bool(_cfg("STRIPE_SECRET_KEY")),
                points_per_unit=_cfg("MALL_POINTS_PER_CURRENCY_UNIT"), screen=_screen,
                guard=check_not_reserved)  # presale: no units the pre-orders wait for


def _screen(order_, when):
    """Risk screening of a new order with where this request came from (ip, device cookie)."""
    ip, device = request_origin()
    return screen_order(order_, when, ip=ip, device=device)


def _plan_form(item_id: int) -> tuple[Item, PlanForm]:
    item = item_with_plans(item_id)
    if item is None or not item.published:
        abort(404)
    return item, PlanForm(plans=[p for p in item.plans if p.active])


def _line(item_id: int, form: PlanForm) -> LineRequest:
    return LineRequest(item_id, form.plan_id.data, form.quantity.data, form.offset_points.data or 0)


def _refusal(error: DomainError, form=None):
    """Put a domain refusal next to its field when the form has one, else in a banner."""
    field = getattr(form, error.field or "", None) if form is not None else None
    if field is not None:
        field.errors = [*field.errors, str(error.message)]
        return None
    return str(error.message)


@bp.route("/catalog/<int:item_id>/quote", methods=["POST"])
@roles_required(MEMBER)
def quote(item_id: int):
    """The live quote beside the plan picker: points used, cash due, balance after."""
    item, form = _plan_form(item_id)
    totals, error = None, None
    if form.validate():
        try:
            totals = price(current_user.id, [_line(item_id, form)], now(), points_per_unit=_cfg("MALL_POINTS_PER_CURRENCY_UNIT"))
            if form.coupon.data:  # the same function the order is charged by
                totals = apply_coupon(current_user.id, totals, form.coupon.data, now())
        except DomainError as exc:
            error = _refusal(exc, form)
    status = 200 if totals else 422
    if wants_fragment():
        return render("checkout/_quote.html", form=form, totals=totals, error=error, item=item, status=status)
    # Without JavaScript "Update total" posts here: the whole page again, re-priced.
    return _buy_page(item, form, error, status=status, quote_totals=totals)


@bp.record_once
def _gate_first(state):
    # The app's first before-request hook, ahead of CSRF, rate limits and the edge checks:
    # the answer reveals only that an item is sold out (public) and writes nothing, so a
    # forged or odd request gains nothing from it, and in a flash sale these taps are most of
    # the traffic (issue 15: refusals at the stack's ceiling).
    state.app.before_request_funcs.setdefault(None, []).insert(0, sold_out_gate)


def sold_out_gate():
    """In a flash sale nearly every tap comes after the last unit went. Answer those from
    one Redis read, before loading the member, the item or the form: a refusal changes
    nothing, so it needs neither. Anything uncertain falls through to the full checkout."""
    if request.endpoint != "checkout.buy_now":
        return None
    admission = current_app.extensions["mall.admission"]
    if admission.gate(request.view_args["item_id"], _intent()):
        if wants_fragment():
            # Straight from the Jinja environment: render_template's context processors would
            # load the member from the database for a fragment that shows nothing of theirs.
            fragment = current_app.jinja_env.get_template("checkout/_sold_out_gate.html")
            return fragment.render(item_id=request.view_args["item_id"]), 409
        return render("checkout/sold_out_gate.html", status=409)


def _intent() -> str | None:
    """This submit as admission names it (member and key), from the session and the form:
    a double tap whose twin was admitted goes on to find the twin's order."""
    member_id = str(session.get("_user_id") or "").partition(":")[0]  # "<id>:<session version>"
    key = request.form.get("key")
    return f"{member_id}:{key}" if member_id and key else None


def _kind_step(item, form):
    """What a service or a right asks before it is bought: the slot (checked before anything
    is written; the slot's conditional UPDATE decides a race) or the confirmation. Returns
    (book callback or None, refusal or None)."""
    if item.kind == "service":
        choice = SlotChoiceForm()
        if not choice.validate():
            return None, next(iter(choice.errors.values()))[0]
        try:
            bookings.bookable_slot(item.id, choice.slot_id.data, choice.address.data, now())
        except DomainError as exc:
            return None, str(exc.message)
        slot_id, address = choice.slot_id.data, choice.address.data or ""
        return (lambda order_, when: bookings.book(order_, slot_id=slot_id, address=address, now=when)), None
    if item.kind == "right" and not RightConfirmForm().confirm_right.data:
        return None, _("Confirm that you understand what this right gives and for how long.")
    return None, None


@bp.route("/catalog/<int:item_id>/buy", methods=["POST"])
@roles_required(MEMBER)
def buy_now(item_id: int):
    item, form = _plan_form(item_id)
    error = None
    if form.validate():
        book, error = _kind_step(item, form) if item.kind != "goods" else (None, None)
        try:
            if error:
                raise DomainError(error)
            order = orders.place_order(current_user.id, [_line(item_id, form)], key=form.key.data, now=now(),
                                       coupon=form.coupon.data, book=book, **_place_args())
        except orders.OutOfStock as exc:
            return _sold_out(item, exc)
        except LockUnavailable as exc:  # Redis down or slow: refuse clearly, nothing written
            return _buy_page(item, form, str(exc.message), status=503)
        except DomainError as exc:
            error = _refusal(exc, form)
        else:
            return _to_order(order)
    return _buy_page(item, form, error or form.key_refusal())


def _buy_page(item, form, error, status=422, notice=None, quote_totals=None):
    """The buy form again (a refusal, a no-JS re-price), still showing the quote for the plan
    the member chose, so the numbers and the reason stay side by side."""
    tier, _points = viewer()
    options = plan_options(item.id, tier, points_per_unit=_cfg("MALL_POINTS_PER_CURRENCY_UNIT"))
    if quote_totals is None and form.plan_id.data in {o.plan.id for o in options}:
        quote_totals = quote_or_none(current_user.id, _line(item.id, form), now(),
                                     points_per_unit=_cfg("MALL_POINTS_PER_CURRENCY_UNIT"))
    return render("checkout/buy.html", "checkout/_buy_form.html", item=item, buy_form=form, options=options,
                  error=error, notice=notice, quote_totals=quote_totals, status=status)


def _sold_out(item, exc):
    """Sold out at checkout: offer the substitutes this member could take, in the same
    response, so switching is one tap."""
    tier, points = viewer()
    offers = offers_for(item.id, tier, points, now())
    return render("checkout/sold_out.html", "checkout/_sold_out.html", item=item, error=str(exc.message),
                  offers=offers, status=409)


def _to_order(order):
    return redirect_to(url_for("checkout.order", order_id=order.id))


@bp.route("/cart")
@roles_required(MEMBER)
def view_cart():
    return _render_cart()


def _render_cart(error=None, status=200, offers=()):
    requests_ = cart.requests(current_user.id)
    totals = None
    try:
        totals = price(current_user.id, requests_, now(), points_per_unit=_cfg("MALL_POINTS_PER_CURRENCY_UNIT")) if requests_ else None
    except DomainError as exc:
        error = error or str(exc.message)
    return render("checkout/cart.html", "checkout/_cart.html", lines=cart.lines(current_user.id), totals=totals,
                  form=CheckoutForm(formdata=None), error=error, status=status, offers=offers)


@bp.route("/catalog/<int:item_id>/cart", methods=["POST"])
@roles_required(MEMBER)
def add_to_cart(item_id: int):
    item, form = _plan_form(item_id)
    if form.validate():
        try:
            cart.add(current_user.id, _line(item_id, form), now(), points_per_unit=_cfg("MALL_POINTS_PER_CURRENCY_UNIT"),
                     key=form.key.data)
        except DomainError as exc:
            flash(str(exc.message), "error")
            return redirect(url_for("catalog.item", item_id=item_id))
        if wants_fragment():  # stay on the item: a fresh form says so and links to the cart
            fresh = PlanForm(plans=[p for p in item.plans if p.active], formdata=None)
            fresh.plan_id.data = form.plan_id.data
            return _buy_page(item, fresh, None, status=200, notice=_("Added to your cart."))
        flash(_("Added to your cart."), "success")
        return redirect(url_for("checkout.view_cart"))
    return _buy_page(item, form, form.key_refusal())


@bp.route("/cart/<int:line_id>/quantity", methods=["POST"])
@roles_required(MEMBER)
def cart_quantity(line_id: int):
    form = QuantityForm()
    if not form.validate():
        return _render_cart(error=form.quantity.errors[0], status=422)
    try:
        cart.set_quantity(current_user.id, line_id, form.quantity.data, now(),
                          points_per_unit=_cfg("MALL_POINTS_PER_CURRENCY_UNIT"))
    except DomainError as exc:
        return _render_cart(error=str(exc.message), status=422)
    return _render_cart()


@bp.route("/cart/<int:line_id>/remove", methods=["POST"])
@roles_required(MEMBER)
def cart_remove(line_id: int):
    if ConfirmForm().validate():
        try:
            cart.remove(current_user.id, line_id)
        except NotFound:
            pass  # already gone: a double tap
    return _render_cart()


@bp.route("/cart/checkout", methods=["POST"])
@roles_required(MEMBER)
def cart_checkout():
    form = CheckoutForm()
    if not form.validate():
        return _render_cart(error=form.key_refusal(), status=422)
    try:
        order = orders.place_order(current_user.id, cart.requests(current_user.id), key=form.key.data, now=now(),
                                   coupon=form.coupon.data, **_place_args())
    except DomainError as exc:
        if isinstance(exc, orders.OutOfStock):  # offer the sold-out lines' substitutes in the same response
            tier, points = viewer()
            offers = [o for item_id in exc.item_ids for o in offers_for(item_id, tier, points, now())]
            return _render_cart(error=str(exc.message), status=409, offers=offers)
        return _render_cart(error=str(exc.message), status=422)
    cart.clear(current_user.id)
    return _to_order(order)


@bp.route("/orders")
@roles_required(MEMBER)
def order_list():
    items, page, pages = orders.member_orders(current_user.id, int_arg("page"))
    return render("checkout/orders.html", orders=items, page=page, pages=pages)


@bp.route("/orders/<int:order_id>")
@roles_required(MEMBER)
@no_store  # the pickup code and QR
def order(order_id: int):
    try:
        order_ = orders.member_order(order_id, current_user.id)
    except NotFound:
        abort(404)
    offers = []
    if order_.status == "offered":  # a presale shortfall: what the member may switch to
        offers = offer_choices(order_, now())
    return render("checkout/order.html", "checkout/_status.html", order=order_, form=ConfirmForm(), now=now(),
                  stripe_key=_cfg("STRIPE_PUBLISHABLE_KEY"), offers=offers, coupons=used_on_order(order_.id),
                  bought=bought_on_order(order_.id) if order_.status == "fulfilled" else [])


@bp.route("/orders/<int:order_id>/<action>", methods=["POST"])
@roles_required(MEMBER)
def order_action(order_id: int, action: str):
    actions = {"cancel": orders.cancel_order, "pay-at-counter": orders.confirm_at_counter}
    if action not in actions and action != "card":
        abort(404)
    if not ConfirmForm().validate():
        abort(400)
    try:
        if action == "card":
            gateway = gateway_for(current_app.config)
            if gateway is None:
                abort(404)
            payments.start_card_payment(order_id, current_user.id, gateway, currency=_cfg("MALL_CURRENCY"), now=now())
        elif actions[action](order_id, current_user.id, now()).status == orders.S.EXPIRED.value:
            flash(_("The hold on this order ran out; your points were returned."), "error")
    except NotFound:
        abort(404)
    except DomainError as exc:
        flash(str(exc.message), "error")
    return redirect(url_for("checkout.order", order_id=order_id))


def _stripe_id(value) -> bool:
    return isinstance(value, str) and 0 < len(value) <= 80 and not has_control_characters(value)


def _event_fields(event) -> tuple[str, str, dict] | None:
    """(event id, type, intent) of a verified event, checked against what apply_event and the
    columns take; None for any other shape (a signature proves the sender, not the shape)."""
    try:
        event_id, event_type, intent = event["id"], event["type"], event["data"]["object"]
    except (KeyError, TypeError, AttributeError):
        return None
    intent = intent.to_dict() if hasattr(intent, "to_dict") else intent
    if not (_stripe_id(event_id) and _stripe_id(event_type) and isinstance(intent, dict)):
        return None
    if intent.get("id") is not None and not _stripe_id(intent["id"]):
        return None
    amount = intent.get("amount")
    if amount is not None and (isinstance(amount, bool) or not isinstance(amount, int) or not 0 <= amount <= MAX_INT):
        return None
    return event_id, event_type, intent


@bp.route("/stripe/webhook", methods=["POST"])
@csrf.exempt
def stripe_webhook():
    import stripe
    secret = _cfg("STRIPE_WEBHOOK_SECRET")
    if not secret:
        abort(404)
    try:
        event = stripe.Webhook.construct_event(request.get_data(as_text=True),
                                               request.headers.get("Stripe-Signature"), secret)
    except (ValueError, stripe.SignatureVerificationError):
        return {"error": "invalid signature"}, 400
    fields = _event_fields(event)
    if fields is None:  # signed, but not the shape of a PaymentIntent event: nothing to apply
        return {"error": "unexpected event shape"}, 400
    outcome = payments.apply_event(*fields, now(), hold_minutes=_cfg("MALL_HOLD_MINUTES"))
    if outcome == "refund due":
        after_commit(payments.send_due_refunds, gateway_for(current_app.config), now())
    return {"outcome": outcome}, 200
