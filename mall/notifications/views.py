"""The member's inbox (/notifications), its unread badge (HTMX), and per-kind opt-out."""
from flask import Blueprint, abort, flash, redirect, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..accounts.models import Role
from ..clock import now
from ..errors import NotFound
from ..web import int_arg, render, roles_required
from . import services
from .forms import KIND_LABELS, PreferencesForm
from .models import KINDS

bp = Blueprint("notifications", __name__, url_prefix="/notifications")


@bp.route("")
@roles_required(Role.MEMBER)
def inbox():
    page = services.inbox(current_user.id, page=int_arg("page"))
    return render("notifications/inbox.html", "notifications/_list.html", inbox=page)


@bp.route("/<int:notification_id>")
@roles_required(Role.MEMBER)
def read(notification_id):
    try:
        notification = services.read_notification(current_user.id, notification_id, now())
    except NotFound:
        abort(404)
    return render("notifications/message.html", n=notification)


@bp.route("/badge")
@roles_required(Role.MEMBER)
def badge():
    """The unread count, polled by the header link; a fragment on its own."""
    return render("notifications/_badge.html", unread=services.unread_count(current_user.id))


@bp.route("/settings", methods=["GET", "POST"])
@roles_required(Role.MEMBER)
def settings():
    form = PreferencesForm()
    if form.validate_on_submit():
        services.set_preferences(current_user.id, set(form.kinds.data or ()), now())
        flash(_("Your notification choices are saved."), "success")
        return redirect(url_for(".settings"))
    if not form.is_submitted():
        form.kinds.data = [k for k in KINDS if k not in services.opted_out_kinds(current_user.id)]
    return render("notifications/settings.html", form=form, labels=KIND_LABELS)
