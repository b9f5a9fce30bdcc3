from flask import Blueprint, current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..accounts.models import Role
from ..clock import now
from ..errors import DomainError, NotFound
from ..points.statement import balance
from ..points.tiers import all_tiers, status_for_spend, tier_status
from ..web import int_arg, render, roles_required
from . import services
from ..checkout.forms import PlanForm
from ..checkout.quotes import LineRequest, plan_options, quote_or_none
from .forms import CatalogQueryForm, PinTargetForm
from .images import is_public
from .substitutes import offers_for
from ..presale.availability import reserved_for_preorders
from ..presale.services import presale_access, presale_for

bp = Blueprint("catalog", __name__, url_prefix="/catalog")


def viewer():
    """The tier and balance prices are computed for: the member's, or the entry tier's."""
    if current_user.is_authenticated and current_user.role == Role.MEMBER:
        at = now()
        return tier_status(current_user.id, at), balance(current_user.id, at).points
    return status_for_spend(0, all_tiers()), 0


@bp.route("")
def index():
    status, points = viewer()
    form = CatalogQueryForm(request.args)
    query = form.query()
    page = services.browse(status, points, category=query.get("category"), affordable_only="affordable" in query,
                           search=query.get("q", ""), sort=query.get("sort", ""), page=int_arg("page"),
                           per_page=current_app.config["MALL_PAGE_SIZE"], now=now(), kind=query.get("kind", ""))
    return render("catalog/list.html", "catalog/_items.html", catalog=page, form=form, query=query,
                  categories=services.categories(), category=query.get("category"),
                  affordable="affordable" in query, tier=status, balance=points)


@bp.route("/<int:item_id>")
def item(item_id: int):
    status, points = viewer()
    try:
        card = services.item_card(item_id, status, points, now())
    except NotFound:
        return render("errors/error.html", code=404, status=404)
    is_target = current_user.is_authenticated and current_user.target_item_id == item_id
    presale = presale_for(item_id)
    member_id = current_user.id if current_user.is_authenticated else None
    access = presale_access(presale, member_id, now()) if presale is not None else None
    # The presale is how the item is bought now or soon (in its priority window, too); the
    # panel's form shows only to those who may pre-order now (presale_access).
    presale_open = access in ("open", "priority", "priority_only")
    # Closed with pre-orders still waiting: the stock is theirs, so no Buy (checkout refuses too).
    reserved = presale is not None and not presale_open and reserved_for_preorders(presale.id, now())
    # Substitutes are hidden while a presale is open: don't work them out for nothing.
    offers = offers_for(item_id, status, points, now()) if card.available <= 0 and not presale_open else []
    options = plan_options(item_id, status, points_per_unit=current_app.config["MALL_POINTS_PER_CURRENCY_UNIT"])
    buy_form = PlanForm(plans=[o.plan for o in options], formdata=None)
    quote_totals = None
    if options:
        buy_form.plan_id.data = options[0].plan.id
        if current_user.is_authenticated and current_user.role == Role.MEMBER:
            quote_totals = quote_or_none(current_user.id, LineRequest(item_id, options[0].plan.id), now(),
                                         points_per_unit=current_app.config["MALL_POINTS_PER_CURRENCY_UNIT"])
    return render("catalog/item.html", card=card, tier=status, balance=points, is_target=is_target,
                  presale=presale, presale_open=presale_open, presale_access=access, reserved=reserved,
                  form=PinTargetForm(), buy_form=buy_form, options=options, quote_totals=quote_totals,
                  offers=offers)


@bp.route("/<int:item_id>/offers")
def offers(item_id: int):
    """The item's substitutes for this member, as a fragment: the sold-out gate (which
    answers late taps from one Redis read, without the database) loads it in place."""
    status, points = viewer()
    return render("catalog/_offers.html", offers=offers_for(item_id, status, points, now()))


@bp.route("/<int:item_id>/target", methods=["POST"])
@roles_required(Role.MEMBER)
def pin_target(item_id: int):
    form = PinTargetForm()
    unpin = request.form.get("unpin") == "1"
    if form.validate_on_submit():
        try:
            services.pin_target(current_user.id, None if unpin else item_id)
        except DomainError as error:
            flash(str(error.message), "error")
            return redirect(url_for("catalog.item", item_id=item_id))
        flash(_("Removed your target reward.") if unpin else
              _("Pinned as your target reward. Track it on your home page."), "success")
    return redirect(url_for("catalog.item", item_id=item_id))


@bp.route("/media/<path:name>")
def media(name: str):
    """Merchandisers' uploaded images (our own WebP re-encodings, random names), public and
    cached for a day. Never an appeal photo: those are served by appeals.appeal_photo."""
    from flask import abort, send_from_directory
    if not is_public(name):
        abort(404)
    response = send_from_directory(current_app.config["MALL_UPLOAD_DIR"], name, max_age=86400)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
