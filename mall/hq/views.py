from datetime import timedelta

from flask import Blueprint, abort, current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..accounts.models import Role
from ..checkout import orders
from ..checkout.gateway import gateway_for
from ..checkout.payments import send_due_refunds
from ..clock import now
from ..errors import DomainError, NotFound
from ..extensions import db
from ..web import render, roles_required
from .forms import OrderLookupForm, RefundForm
from .services import issued_by_store, programme_totals

bp = Blueprint("hq", __name__, url_prefix="/hq")

PERIODS = {"30d": 30, "90d": 90, "365d": 365, "all": None}


@bp.route("")
@roles_required(Role.HQ)
def index():
    period = request.args.get("period") if request.args.get("period") in PERIODS else "30d"
    until = now()
    since = until - timedelta(days=PERIODS[period]) if PERIODS[period] else None
    return render("hq/index.html", "hq/_figures.html", totals=programme_totals(since, until),
                  by_store=issued_by_store(since, until), period=period, periods=list(PERIODS))


@bp.route("/orders")
@roles_required(Role.HQ)
def order_lookup():
    form = OrderLookupForm(request.args)
    order, status = None, 200
    if "number" in request.args:
        if form.validate():
            try:
                order = orders.find_by_number(form.number.data)
            except NotFound:
                form.number.errors.append(_("No order has that number."))
                status = 404
        else:
            status = 422
    return render("hq/orders.html", form=form, order=order, refund_form=RefundForm(), status=status)


@bp.route("/orders/<int:order_id>/refund", methods=["POST"])
@roles_required(Role.HQ)
def refund(order_id: int):
    form = RefundForm()
    order = db.session.get(orders.Order, order_id) or abort(404)
    if form.validate():
        try:
            orders.refund_order(order_id, now=now(), actor_id=current_user.id, reason=form.reason.data)
        except DomainError as exc:
            flash(str(exc.message), "error")
        else:
            db.session.commit()  # the refund stands before the card refund is sent
            gateway = gateway_for(current_app.config)
            if gateway is not None:
                send_due_refunds(gateway, now(), order_id=order_id)
            flash(_("Order %(number)s refunded: stock and points are back.", number=order.number), "success")
    else:
        flash(form.reason.errors[0], "error")
    return redirect(url_for("hq.order_lookup", number=order.number))
