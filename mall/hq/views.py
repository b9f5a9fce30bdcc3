import csv
import io
import secrets

from flask import Blueprint, Response, abort, current_app, flash, redirect, request, url_for
from flask_babel import get_locale, gettext as _
from flask_login import current_user

from ..accounts.auditlog import audit_page
from ..accounts.models import Role
from ..budgets import services as budgets
from ..checkout import orders
from ..checkout.gateway import gateway_for
from ..checkout.payments import send_due_refunds
from ..clock import now
from ..errors import DomainError, NotFound
from ..extensions import db
from ..instore.api_keys import all_stores
from ..instore.pickups import staff_stores
from ..notifications.mail import mailer_for
from ..points.explain import reason_label
from ..risk import services as risk
from ..settings import current as current_settings
from ..templating import points as format_points
from ..unit_of_work import after_commit
from ..web import int_arg, no_store, redirect_to, refuse, render, roles_required
from . import analytics, segments
from .alerts import send_due_alerts
from .names import CAMPAIGN_LABELS, TASK_LABELS, Names, hq_names
from .wallet_costs import wallet_costs
from ..engagement.rulebook import current_rules
from .forms import (BudgetForm, DashboardFilterForm, DecisionForm, FreezeForm, GrantForm, MemberSearchForm,
                    OrderLookupForm, ProgrammeBudgetForm, RefundForm, UnfreezeForm)

bp = Blueprint("hq", __name__, url_prefix="/hq")


def _send_alerts() -> None:
    """Budget warnings raised by the request just committed go out now (and `mall jobs`
    retries any that could not be sent)."""
    send_due_alerts(now(), mailer_for(current_app.config))


# --- dashboard ----------------------------------------------------------------------------

def dashboard_labels() -> dict:
    return {"trend": _("Points over time"), "period": _("Period"), "issued": _("Issued"),
            "redeemed": _("Redeemed"), "expired": _("Expired"), "by_store": _("Cost by store"),
            "by_region": _("Cost by region"), "by_category": _("Cost by category"),
            "by_rule": _("Cost by rule or campaign"), "by_budget": _("Cost by budget"), "budget": _("Budget"),
            "base_points": _("Base points (cost of sales)"),
            "store": _("Store"), "region": _("Region"),
            "category": _("Category"), "rule": _("Rule or campaign"), "points": _("Points issued"), "points_charged": _("Points charged"),
            "cost": _("Cost"), "online": _("Online and other"), "no_region": _("No region"),
            "no_category": _("No category"), "w_issued": _("Issued"), "w_used": _("Used (discount given)"),
            "w_expired": _("Expired unused"), "w_trend": _("Coupons and red packets over time"),
            "w_by_kind": _("Coupons and red packets by kind"), "w_kind": _("Kind"),
            "w_by_store": _("Coupons and red packets by store"), "w_by_region": _("Coupons and red packets by region"),
            "w_by_campaign": _("Coupons and red packets by campaign"), "w_campaign": _("Campaign or coupon"),
            "w_by_category": _("Coupons and red packets by category"), "red_packet": _("Red packets"),
            "coupon": _("Coupons")}


def _board(filters, names):
    """The dashboard: points (analytics) with coupons and red packets beside them (wallet_costs).
    `names`: the categories' names in the reader's language (from _filters)."""
    labels = dashboard_labels()
    board = analytics.dashboard(filters, now(), labels, names)
    board.wallet = wallet_costs(filters, now(), labels, names)
    board.charts.update(board.wallet.charts)
    return board


def _chinese() -> bool:
    return str(get_locale()).startswith("zh")


def _filters():
    """The filter form, the filters, and the names to show (read with the form's choices)."""
    form = DashboardFilterForm(request.args)
    choices = analytics.filter_choices(chinese=_chinese())
    names = choices["names"]
    form.store.choices = [("", _("All stores"))] + [(s.id, names.store(s)) for s in choices["stores"]]
    form.region.choices = [("", _("All regions"))] + [(r, r) for r in choices["regions"]]
    # The value stays the slug (stable links); the option shows the name.
    form.category.choices = [("", _("All categories"))] + choices["categories"] + [("-", _("No category"))]
    form.validate()
    filters = analytics.make_filters(
        now(), period=form.period.data, start=None if form.start.errors else form.start.data,
        end=None if form.end.errors else form.end.data, store_id=form.store.data,
        region=form.region.data, category=form.category.data or None, grain=form.grain.data)
    return form, filters, choices["names"]


@bp.route("")
@roles_required(Role.HQ)
def index():
    form, filters, names = _filters()
    board = _board(filters, names)
    return render("hq/index.html", "hq/_dashboard.html", form=form, board=board)


@bp.route("/export/<chart>.csv")
@roles_required(Role.HQ)
@no_store
def export(chart: str):
    _form, filters, names = _filters()
    board = _board(filters, names)
    if chart not in board.charts:
        abort(404)
    out = io.StringIO()
    writer = csv.writer(out)
    for row in analytics.csv_rows(board.charts[chart]):
        # A cell that starts like a formula is quoted, so a spreadsheet never runs it.
        writer.writerow(["'" + c if isinstance(c, str) and c[:1] in "=+-@\t\r" else c for c in row])
    name = f"point-mall-{chart}-{filters.start or 'start'}-{filters.end}.csv"
    return Response("\ufeff" + out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


# --- budgets and grants -------------------------------------------------------------------

def _store_choices(user) -> list:
    if user.role == Role.HQ.value:
        stores = all_stores()
    else:
        stores = staff_stores(user.id)
    names = Names(chinese=_chinese())
    return [(s.id, names.store(s)) for s in stores]


def _programme_choices() -> list:
    """What a programme budget can be for: each earning rule (its uplift) and each task kind."""
    names = Names(chinese=_chinese())
    tasks = [(f"task:{kind}", str(label)) for kind, label in TASK_LABELS.items()] + \
        [("campaign:red-packets", str(CAMPAIGN_LABELS["red-packets"]))]
    return tasks + [(f"campaign:{r.rule_key}", _("Rule: %(name)s", name=names.pick(r.name, r.name_zh)))
                    for r in current_rules()]


@bp.route("/budgets/programme", methods=["GET", "POST"])
@roles_required(Role.HQ)
def programme_budget():
    """Programme budgets (per campaign or task kind): where no store's budget applies."""
    form = ProgrammeBudgetForm()
    form.target.choices = _programme_choices()
    if form.validate_on_submit():
        scope, _sep, target = form.target.data.partition(":")
        try:
            # The default name, not the option's text: pages name it in their reader's language.
            budgets.set_programme_budget(scope, target, budgets.default_budget_name(scope, target),
                                         form.monthly_points.data, form.when_exhausted.data,
                                         actor_id=current_user.id, now=now())
        except DomainError as error:
            refuse(form, error)
        else:
            flash(_("Budget saved."), "success")
            return redirect_to(url_for("hq.budgets_page"))
    status = 422 if form.errors or form.form_errors else 200
    names = hq_names(chinese=_chinese())
    return render("hq/programme_budget.html", form=form,
                  programme_lines=analytics.programme_budget_status(now(), names), status=status)


@bp.route("/budgets", methods=["GET", "POST"])
@roles_required(Role.HQ)
def budgets_page():
    form = BudgetForm()
    form.store_id.choices = _store_choices(current_user)
    if form.validate_on_submit():
        try:
            budgets.set_budget(form.store_id.data, form.monthly_points.data, form.when_exhausted.data,
                               alert_email=form.alert_email.data, actor_id=current_user.id, now=now())
        except DomainError as error:
            refuse(form, error)
        else:
            flash(_("Budget saved."), "success")
            return redirect_to(url_for("hq.budgets_page"))
    status = 422 if form.errors or form.form_errors else 200
    names = hq_names(chinese=_chinese())
    return render("hq/budgets.html", form=form, lines=analytics.budget_status(now(), names),
                  programme_lines=analytics.programme_budget_status(now(), names), status=status)


@bp.route("/grants", methods=["GET", "POST"])
@roles_required(Role.HQ, Role.STORE_STAFF)
def grants():
    """Manual grants of discretionary points (HQ, and staff for their own stores), and HQ's
    queue of grants held over budget."""
    form = GrantForm()
    form.store_id.choices = _store_choices(current_user)
    if request.method == "GET":
        form.key.data = secrets.token_urlsafe(12)
    if form.validate_on_submit():
        try:
            settings = current_settings()  # a store's staff grant is capped; HQ's own is not
            grant = budgets.manual_grant(form.store_id.data, form.member.data, form.points.data, form.note.data,
                                         key=form.key.data, actor_id=current_user.id, now=now(),
                                         limits=None if current_user.role == Role.HQ.value else settings.grants,
                                         timezone=settings.timezone)
        except DomainError as error:
            refuse(form, error)
        else:
            after_commit(_send_alerts)
            if grant is not None and grant.status == "held" and budgets.budget_left(grant.store_id, now()) >= grant.points:
                flash(_("The grant is over this store's limit for staff grants: it waits for HQ's approval."),
                      "info")
            elif grant is not None and grant.status == "held":
                flash(_("The store's budget is used up: the grant waits for HQ's approval."), "info")
            else:
                flash(_("%(points)s points granted.", points=format_points(form.points.data)), "success")
            return redirect_to(url_for("hq.grants"))
    held, page, pages = budgets.held_grants(int_arg("page")) if current_user.role == Role.HQ.value else ([], 1, 1)
    lines = [line for line in analytics.budget_status(now(), Names(chinese=_chinese()))
             if line.store.id in {sid for sid, _name in form.store_id.choices}]
    status = 422 if form.errors or form.form_errors else 200
    return render("hq/grants.html", form=form, held=held, page=page, pages=pages, lines=lines,
                  decision_form=DecisionForm(), reason_label=reason_label, status=status)


@bp.route("/grants/<int:grant_id>/decide", methods=["POST"])
@roles_required(Role.HQ)
def decide_grant(grant_id: int):
    form = DecisionForm()
    if form.validate():
        try:
            budgets.decide_grant(grant_id, approve=form.decision.data == "approve", actor_id=current_user.id,
                                 note=form.reason.data, now=now())
        except NotFound:
            abort(404)
        except DomainError as error:
            flash(str(error.message), "error")
            return redirect_to(url_for("hq.grants"))
        flash(_("Grant approved: the points are credited.") if form.decision.data == "approve"
              else _("Grant rejected."), "success")
    else:
        flash(next(iter(form.errors.values()))[0], "error")
    return redirect_to(url_for("hq.grants"))


# --- risk ---------------------------------------------------------------------------------

@bp.route("/risk")
@roles_required(Role.HQ)
def risk_queue():
    status = request.args.get("status") if request.args.get("status") in ("pending", "approved", "rejected") \
        else "pending"
    reviews, page, pages, total = risk.review_queue(status, int_arg("page"))
    return render("hq/risk.html", reviews=reviews, page=page, pages=pages, total=total, review_status=status,
                  decision_form=DecisionForm())


@bp.route("/risk/reviews/<int:review_id>/decide", methods=["POST"])
@roles_required(Role.HQ)
def decide_review(review_id: int):
    form = DecisionForm()
    if form.validate():
        approve = form.decision.data == "approve"
        try:
            review = risk.decide_review(review_id, approve=approve, actor_id=current_user.id,
                                        reason=form.reason.data, now=now(),
                                        hold_minutes=current_app.config["MALL_HOLD_MINUTES"])
        except NotFound:
            abort(404)
        except DomainError as error:
            flash(str(error.message), "error")
        else:
            number = review.order.number
            flash(_("Order %(number)s approved: it proceeds.", number=number) if approve else
                  _("Order %(number)s rejected: stock and points are back.", number=number), "success")
    else:
        flash(next(iter(form.errors.values()))[0], "error")
    return redirect_to(url_for("hq.risk_queue"))


@bp.route("/risk/clusters")
@roles_required(Role.HQ)
def clusters():
    return render("hq/clusters.html", clusters=risk.clusters(), size=risk.limits().cluster_size)


@bp.route("/members")
@roles_required(Role.HQ)
def members():
    form = MemberSearchForm(request.args)
    if "q" in request.args and form.validate():
        try:
            member = budgets.find_member(form.q.data)
        except NotFound:
            form.q.errors.append(_("No member has that email, mobile number or member code."))
        else:
            return redirect(url_for("hq.member", member_id=member.id))
    return render("hq/members.html", form=form, status=404 if form.q.errors else 200)


@bp.route("/members/<int:member_id>")
@roles_required(Role.HQ)
def member(member_id: int):
    try:
        facts = risk.member_risk(member_id)
    except NotFound:
        abort(404)
    history, _page, _pages = audit_page(1, 20, subject_type="user", subject_id=member_id)
    return render("hq/member.html", **facts, history=history, freeze_form=FreezeForm(), unfreeze_form=UnfreezeForm())


@bp.route("/members/<int:member_id>/freeze", methods=["POST"])
@roles_required(Role.HQ)
def freeze(member_id: int):
    form = FreezeForm()
    if form.validate():
        try:
            risk.freeze_member(member_id, form.reason.data, actor_id=current_user.id, now=now())
        except NotFound:
            abort(404)
        flash(_("Account frozen. The member sees the reason when logging in."), "success")
    else:
        flash(form.reason.errors[0], "error")
    return redirect_to(url_for("hq.member", member_id=member_id))


@bp.route("/members/<int:member_id>/unfreeze", methods=["POST"])
@roles_required(Role.HQ)
def unfreeze(member_id: int):
    form = UnfreezeForm()
    if form.validate():
        try:
            risk.unfreeze_member(member_id, form.reason.data, actor_id=current_user.id, now=now())
        except NotFound:
            abort(404)
        flash(_("Account unfrozen."), "success")
    else:
        flash(form.reason.errors[0], "error")
    return redirect_to(url_for("hq.member", member_id=member_id))


@bp.route("/audit")
@roles_required(Role.HQ)
def audit_log():
    rows, page, pages = audit_page(int_arg("page"))
    return render("hq/audit.html", rows=rows, page=page, pages=pages)


# --- segments and ROI ---------------------------------------------------------------------

@bp.route("/segments")
@roles_required(Role.HQ)
def segments_page():
    return render("hq/segments.html", counts=segments.segment_counts(), computed_at=segments.segments_computed_at(),
                  roi=segments.roi_table(), rule_names=hq_names(chinese=_chinese()))


@bp.route("/segments/<segment>")
@roles_required(Role.HQ)
def segment(segment: str):
    if segment not in segments.SEGMENTS:
        abort(404)
    rows, page, pages, total = segments.segment_members(segment, int_arg("page"))
    return render("hq/segment.html", "hq/_segment_rows.html", segment=segment, rows=rows, page=page, pages=pages,
                  total=total)


@bp.route("/segments/refresh", methods=["POST"])
@roles_required(Role.HQ)
def refresh_segments():
    segments.refresh_all(now())
    flash(_("Segments and ROI recomputed."), "success")
    return redirect_to(url_for("hq.segments_page"))


# --- orders -------------------------------------------------------------------------------

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
            gateway = gateway_for(current_app.config)
            if gateway is not None:  # the card refund is sent once the refund stands
                after_commit(send_due_refunds, gateway, now(), order_id=order_id)
            flash(_("Order %(number)s refunded: stock and points are back.", number=order.number), "success")
    else:
        flash(form.reason.errors[0], "error")
    return redirect(url_for("hq.order_lookup", number=order.number))
