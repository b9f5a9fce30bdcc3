"""Members pre-order and answer shortfall offers; merchandisers set up presales."""
from flask import Blueprint, abort, current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..accounts.models import Role
from ..catalog.models import Item
from ..checkout.forms import PlanForm
from ..checkout.quotes import LineRequest, item_with_plans
from ..clock import now
from ..errors import DomainError, NotFound
from ..extensions import db
from ..web import int_arg, local_to_utc, redirect_to, render, roles_required, utc_to_local
from . import services
from .forms import OfferForm, PresaleForm

bp = Blueprint("presale", __name__)


@bp.route("/catalog/<int:item_id>/preorder", methods=["POST"])
@roles_required(Role.MEMBER)
def preorder(item_id: int):
    item = item_with_plans(item_id)
    presale = services.presale_for(item_id)
    if item is None or presale is None:
        abort(404)
    form = PlanForm(plans=[p for p in item.plans if p.active])
    if form.validate():
        try:
            order = services.preorder(current_user.id, presale.id,
                                      LineRequest(item_id, form.plan_id.data, form.quantity.data,
                                                  form.offset_points.data or 0),
                                      key=form.key.data, now=now(),
                                      points_per_unit=current_app.config["MALL_POINTS_PER_CURRENCY_UNIT"])
        except DomainError as error:
            flash(str(error.message), "error")
        else:
            return redirect_to(url_for("checkout.order", order_id=order.id))
    else:
        flash(next(iter(form.errors.values()))[0], "error")
    return redirect_to(url_for("catalog.item", item_id=item_id))


@bp.route("/orders/<int:order_id>/offer", methods=["POST"])
@roles_required(Role.MEMBER)
def answer_offer(order_id: int):
    form = OfferForm()
    if not form.validate():
        abort(400)
    try:
        if request.form.get("answer") == "refund":
            order = services.decline_offer(order_id, current_user.id, now())
            done = _("Refunded in full. Your points are back.")
        else:
            order = services.accept_substitute(order_id, current_user.id, form.substitute_id.data or 0, now=now(),
                                               confirm_top_up=form.confirm_top_up.data == "yes")
            done = _("Done: your order is now for the substitute, and your points are settled.")
        if services.offer_expired(order):
            flash(_("This offer has expired; your points were refunded."), "error")
        else:
            flash(done, "success")
    except services.TopUpNeeded as needed:
        return render("presale/confirm_top_up.html", order_id=order_id, substitute_id=form.substitute_id.data,
                      points=needed.points, form=OfferForm())
    except NotFound:
        abort(404)
    except DomainError as error:
        flash(str(error.message), "error")
    return redirect(url_for("checkout.order", order_id=order_id))


@bp.route("/console/items/<int:item_id>/presale", methods=["GET", "POST"])
@roles_required(Role.MERCHANDISER)
def console_presale(item_id: int):
    item = db.session.get(Item, item_id) or abort(404)
    presale = services.presale_for(item_id)
    form = PresaleForm()
    if request.method == "GET" and presale is not None:
        form.opens_at.data, form.closes_at.data = utc_to_local(presale.opens_at), utc_to_local(presale.closes_at)
        form.priority_opens_at.data = utc_to_local(presale.priority_opens_at)
        form.cap.data, form.ships_on.data, form.offer_hours.data = presale.cap, presale.ships_on, presale.offer_hours
    if form.validate_on_submit():
        try:
            services.save_presale(item_id, opens_at=local_to_utc(form.opens_at.data),
                                  closes_at=local_to_utc(form.closes_at.data),
                                  cap=form.cap.data, ships_on=form.ships_on.data, offer_hours=form.offer_hours.data,
                                  now=now(), actor_id=current_user.id,
                                  priority_opens_at=local_to_utc(form.priority_opens_at.data))
        except DomainError as error:
            field = getattr(form, error.field or "", None)
            (field.errors if field is not None else form.form_errors).append(str(error.message))
        else:
            flash(_("Presale saved."), "success")
            return redirect(url_for("presale.console_presale", item_id=item_id))
    orders, page, pages = services.queue_page(presale.id, page=int_arg("page")) if presale else ([], 1, 1)
    return render("presale/console.html", item=item, presale=presale, form=form, orders=orders, page=page,
                  pages=pages, status=422 if form.errors or form.form_errors else 200)
