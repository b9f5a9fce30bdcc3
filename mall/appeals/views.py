from pathlib import Path

from flask import Blueprint, abort, current_app, flash, redirect, request, send_from_directory, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..accounts.models import Role
from ..clock import now
from ..errors import DomainError, NotFound
from ..templating import shown_datetime
from ..web import bounded_int, int_arg, no_store, refuse, render, roles_required
from . import services
from .forms import AppealForm, ResolveForm

bp = Blueprint("appeals", __name__)


def _subject_args(form: AppealForm) -> dict:
    return dict(entry_id=bounded_int(form.entry.data, None), order_id=bounded_int(form.order.data, None))


@bp.route("/appeals")
@roles_required(Role.MEMBER)
def my_appeals():
    return render("appeals/list.html", appeals=services.member_appeals(current_user.id, int_arg("page")))


@bp.route("/appeals/new", methods=["GET", "POST"])
@roles_required(Role.MEMBER)
def new_appeal():
    """"Question this" from a statement line (?entry=) or an order (?order=)."""
    form = AppealForm(data={"entry": request.args.get("entry"), "order": request.args.get("order")}
                      if request.method == "GET" else None)
    subject = None
    try:
        subject = services.subject_for(current_user.id, **_subject_args(form))
    except DomainError:
        if request.method == "POST" or request.args:
            return render("errors/error.html", code=404, status=404)
    if subject is not None and form.validate_on_submit():
        photo = form.photo.data.read() if form.photo.data else None
        try:
            appeal = services.raise_appeal(
                current_user.id, **_subject_args(form), reason=form.reason.data, key=form.key.data, now=now(),
                zone=current_app.config["BABEL_DEFAULT_TIMEZONE"], photo=photo,
                upload_dir=Path(current_app.config["MALL_UPLOAD_DIR"]))
        except DomainError as exc:
            refuse(form, exc)
        else:
            flash(_("Thank you. We answer within one working day, by %(due)s.",
                    due=shown_datetime(appeal.due_at, "short")), "success")
            return redirect(url_for("appeals.my_appeals"))
    elif form.is_submitted() and (stale := form.key_refusal()):
        form.form_errors.append(stale)  # the hidden key's error: shown above the form
    return render("appeals/new.html", form=form, subject=subject, status=422 if form.errors else 200)


@bp.route("/appeals/<int:appeal_id>/photo")
@roles_required(Role.MEMBER, Role.HQ)
@no_store
def appeal_photo(appeal_id: int):
    """The photo, to the member who sent it and to HQ only (never under the public uploads)."""
    try:
        appeal = services.member_appeal(appeal_id, None if current_user.role == Role.HQ else current_user.id)
    except NotFound:
        abort(404)
    if not appeal.photo:
        abort(404)
    return send_from_directory(current_app.config["MALL_UPLOAD_DIR"], appeal.photo)


@bp.route("/hq/appeals")
@roles_required(Role.HQ)
def queue():
    return render("appeals/queue.html", queue=services.queue(now(), int_arg("page")), now=now(),
                  forms={}, form=ResolveForm(formdata=None))


@bp.route("/hq/appeals/<int:appeal_id>")
@roles_required(Role.HQ)
@no_store
def review(appeal_id: int):
    """One appeal with what the member saw: the purchase's receipt for a statement line of a
    store purchase, the order for an order. Reading only: nothing is written or audited."""
    return _review_page(appeal_id, ResolveForm(formdata=None))


def _review_page(appeal_id: int, form: ResolveForm, status: int = 200):
    try:
        shown = services.review(appeal_id, now=now())
    except NotFound:
        abort(404)
    return render("appeals/review.html", review=shown, now=now(), form=form, status=status)


@bp.route("/hq/appeals/<int:appeal_id>", methods=["POST"])
@roles_required(Role.HQ)
def resolve(appeal_id: int):
    form = ResolveForm()
    if form.validate():
        try:
            services.resolve(appeal_id, points=form.points.data, reply=form.reply.data, actor_id=current_user.id,
                             now=now())
        except NotFound:
            abort(404)
        except DomainError as exc:
            refuse(form, exc)
        else:
            flash(_("Appeal no. %(id)s resolved; the member is told.", id=appeal_id), "success")
            return redirect(url_for("appeals.queue"))
    if request.args.get("back") == "review":  # answered from the review page: the refusal shows there
        return _review_page(appeal_id, form, status=422)
    return render("appeals/queue.html", queue=services.queue(now(), int_arg("page")), now=now(),
                  forms={appeal_id: form}, form=ResolveForm(formdata=None), status=422)
