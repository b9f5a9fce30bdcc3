"""My wallet (members), HQ issuing a coupon, and the counter's coupon card (store staff)."""
from flask import Blueprint, abort, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..accounts.models import Role
from ..accounts.services import find_by_identifier
from ..clock import now
from ..errors import DomainError, NotFound
from ..instore import coupons as till
from ..instore.codes import qr_svg
from ..instore.pickups import check_staff_store, staff_stores
from ..web import int_arg, no_store, redirect_to, render, roles_required
from . import services
from .forms import CounterCouponForm, IssueForm
from .issue import active_specs, issue_hq

bp = Blueprint("wallet", __name__)


@bp.route("/wallet")
@roles_required(Role.MEMBER)
def index():
    tab = request.args.get("tab", "available")
    wallet = services.member_wallet(current_user.id, tab if tab in services.TABS else "available", now(),
                                    int_arg("page"))
    return render("wallet/index.html", wallet=wallet, now=now(), headline=services.headline,
                  shown_state=services.shown_state)


@bp.route("/wallet/<int:item_id>")
@roles_required(Role.MEMBER)
@no_store  # its code is as good as the coupon
def item(item_id: int):
    try:
        found = services.member_item(item_id, current_user.id)
    except NotFound:
        abort(404)
    state = services.shown_state(found, now())
    return render("wallet/item.html", item=found, state=state, headline=services.headline(found),
                  conditions=services.conditions(found), svg=qr_svg(found.code) if state == "available" else None)


@bp.route("/hq/wallet/issue", methods=["GET", "POST"])
@roles_required(Role.HQ)
def hq_issue():
    form = IssueForm(specs=active_specs())
    status = 200
    if request.method == "POST":
        if form.validate():
            member = find_by_identifier(form.member.data)
            if member is None or member.role != Role.MEMBER:
                form.member.errors = [_("No member with that email or mobile number.")]
                status = 422
            else:
                try:
                    issued = issue_hq(member.id, form.spec_id.data, key=form.key.data, reason=form.reason.data,
                                      actor_id=current_user.id, now=now())
                except DomainError as exc:
                    field = getattr(form, exc.field or "", None) or form.spec_id
                    field.errors = [*field.errors, str(exc.message)]
                    status = 422
                else:
                    flash(_("Coupon %(code)s issued to %(member)s.", code=issued.short_code,
                            member=member.display_name), "success")
                    return redirect_to(url_for("wallet.hq_issue"))
        else:
            status = 422
    return render("wallet/hq_issue.html", form=form, status=status)


@bp.route("/counter/coupons", methods=["GET", "POST"])
@roles_required(Role.STORE_STAFF)
@no_store
def counter():
    stores = staff_stores(current_user.id)
    form = CounterCouponForm() if request.method == "POST" else CounterCouponForm(formdata=None)
    outcome, status = None, 200
    if request.method == "POST":
        if form.validate():
            try:
                store = check_staff_store(current_user.id, form.store.data)
                if form.action.data == "spend":
                    outcome = till.spend_coupon(store.id, form.receipt_no.data, form.code.data, now=now(),
                                                actor_id=current_user.id)
                else:
                    outcome = till.check_coupon(store.id, form.receipt_no.data, form.code.data, now=now())
            except DomainError as exc:
                form.receipt_no.errors = [str(exc.message)]
                status = 422
            else:
                status = 200 if outcome.ok else 409 if form.action.data == "spend" else 200
        else:
            status = 422
    elif stores:
        form.store.data = stores[0].id
    return render("wallet/counter.html", "wallet/_counter.html", form=form, stores=stores, outcome=outcome,
                  status=status)
