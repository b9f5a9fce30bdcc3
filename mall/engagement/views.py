"""Member tasks (/tasks), tier history, and the earning-rules console (/console/earning-rules)."""

from dataclasses import replace
from datetime import time

from flask import Blueprint, abort, flash, g, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..accounts.models import Role
from ..catalog.services import categories
from ..clock import now
from ..errors import DomainError, LockUnavailable, NotFound
from ..locks import UNAVAILABLE, app_redis
from ..origin import DEVICE_COOKIE, is_browser_request, request_origin
from ..risk.services import EarningTooFast
from ..points import tiers as tier_service
from ..security import checkin_limit
from ..templating import localized
from ..settings import current as current_settings
from ..points.explain import formula, line_groups
from ..web import local_to_utc, refuse, render, roles_required, utc_to_local, wants_fragment
from . import burst, rulebook, tasks
from .forms import KIND_LABELS, SEGMENT_LABELS, WEEKDAYS, CheckinForm, PreviewForm, ProfileForm, ReferralForm, RuleForm, choose
from .home import home_panel
from .preview import preview

bp = Blueprint("engagement", __name__)
DESK = (Role.MERCHANDISER, Role.HQ)


# --- the device: one household's phone can't refer itself ----------------------------------

@bp.before_app_request
def _remember_device():
    # Page views are enough to see which accounts share a phone; skipping other methods keeps
    # the checkout path (and a flash-sale stampede of refused taps) free of this query. A
    # first visit has no cookie yet: mall.origin issues it, and the next page view records it.
    if request.method != "GET" or DEVICE_COOKIE not in request.cookies or not is_browser_request():
        return
    _ip, device = request_origin()  # None for a forged or mangled cookie
    if (device is not None and current_user.is_authenticated and current_user.role == Role.MEMBER
            and session.get("device_seen") != device):
        tasks.remember_device(current_user.id, device, now())  # committed with the request
        g.device_recorded = device


@bp.after_app_request
def _mark_device_seen(response):
    if getattr(g, "device_recorded", None) and response.status_code < 400:
        session["device_seen"] = g.device_recorded  # committed: no need to record it again
    return response


# --- member tasks -----------------------------------------------------------------------

@bp.app_template_global()
def engagement_home(member_id: int):
    """For templates/storefront/home.html's include: computed in Python, once."""
    return home_panel(member_id, now())


@bp.app_template_filter("iso_date")
def _iso_date(value: str):
    """Dates kept as ISO text in JSON facts (a notification's params), back to dates."""
    from datetime import date
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        return None


@bp.app_template_global("earning_formula")
def _earning_formula(detail: dict) -> str:
    return formula(detail)


@bp.app_template_global("earning_lines")
def _earning_lines(detail: dict) -> str:
    return line_groups(detail)


def _profile_form(form=None) -> ProfileForm:
    form = form or ProfileForm(obj=tasks.profile_of(current_user.id))
    # The member's language for the options too (issue 17): the catalogue shows Chinese names.
    form.favourite_category.choices = [("", _("(none)"))] + [(c.slug, localized(c, "name")) for c in categories()]
    return form


def _tasks_page(status=200, **forms):
    at = now()
    profile_form = _profile_form(forms.get("profile_form"))
    return render("engagement/tasks.html", status=status, board=_board(at),
                  checkin_form=CheckinForm(), profile_form=profile_form,
                  referral_form=forms.get("referral_form") or ReferralForm(),
                  tier=tier_service.tier_status(current_user.id, at),
                  history=tier_service.tier_history(current_user.id))


def _board(at):
    """The task board; with queued check-ins, today's check-in may be in Redis and not yet
    credited: the board says checked in (the statement shows the points within seconds)."""
    board = tasks.task_board(current_user.id, at)
    cfg = current_settings()
    if cfg.checkin_queued and not board.checked_in_today:
        streak = burst.today_in_redis(app_redis(), current_user.id, at, zone=cfg.timezone)
        if streak is not None:
            board = replace(board, streak=streak, checked_in_today=True)
    return board


@bp.route("/tasks")
@roles_required(Role.MEMBER)
def tasks_page():
    return _tasks_page()


@bp.route("/tasks/check-in", methods=["POST"])
@checkin_limit
@roles_required(Role.MEMBER)
def check_in():
    """HTMX swaps the check-in card in place; without JavaScript the page reloads with a flash."""
    cfg = current_settings()
    status, kind = 200, "success"
    ip, device = request_origin()
    try:
        if cfg.checkin_queued:
            try:
                queued = burst.check_in_queued(app_redis(), current_user.id, now(), zone=cfg.timezone,
                                               rewards=cfg.tasks, wait_replicas=cfg.checkin_wait_replicas)
            except UNAVAILABLE:
                queued = None  # the script failed: the database checks in (the member's lock is in Redis
                # too, so with Redis down that refuses with "busy, try again"; the UNIQUE holds either way)
            if queued is not None:
                return _queued_answer(queued, cfg)
            result = burst.check_in_fallback(app_redis(), current_user.id, now(), zone=cfg.timezone,
                                             device=device, ip=ip)
        else:
            result = tasks.check_in(current_user.id, now(), device=device, ip=ip)
    except tasks.AlreadyCheckedIn as refusal:
        message, status, kind = str(refusal.message), 409, "info"
    except EarningTooFast as refusal:
        message, status, kind = str(refusal.message), 429, "error"
    except LockUnavailable as refusal:  # nothing written: tasks.check_in's savepoint
        message, status, kind = str(refusal.message), 503, "error"
    else:
        grant = result.grant
        if grant.notice:
            message, kind = str(grant.notice), "info"
        elif grant.capped:
            message = _("Checked in: day %(streak)s of your streak. You reached the limit for bonus points, "
                        "so you got %(got)s of %(wanted)s points.", streak=result.checkin.streak,
                        got=grant.granted, wanted=grant.wanted)
        else:
            message = _("Checked in: day %(streak)s of your streak, +%(points)s points.",
                        streak=result.checkin.streak, points=grant.granted)
    if not wants_fragment():
        flash(message, kind)
        return redirect(url_for(".tasks_page"))
    return render("engagement/_checkin.html", status=status, board=_board(now()),  # a queued check-in too
                  checkin_form=CheckinForm(), message=message, message_kind=kind)


def _queued_answer(queued, cfg):
    """Answered from Redis alone: no database write in the request, the credit is queued."""
    if queued.new:
        message, status, kind = _("Checked in: day %(streak)s of your streak, +%(points)s points arriving in your "
                                  "statement within seconds.", streak=queued.streak, points=queued.points), 200, "success"
    else:
        message, status, kind = str(tasks.AlreadyCheckedIn.message), 409, "info"
    if not wants_fragment():
        flash(message, kind)
        return redirect(url_for(".tasks_page"))
    return render("engagement/_checkin.html", status=status, board=burst.quick_board(queued, cfg.tasks),
                  checkin_form=CheckinForm(), message=message, message_kind=kind)


@bp.route("/tasks/profile", methods=["POST"])
@roles_required(Role.MEMBER)
def save_profile():
    form = _profile_form(ProfileForm())
    if not form.validate_on_submit():
        return _tasks_page(status=422, profile_form=form)
    ip, device = request_origin()
    try:
        grants = tasks.update_profile(current_user.id, birthday=form.birthday.data, city=form.city.data,
                                      favourite_category=form.favourite_category.data, now=now(),
                                      device=device, ip=ip)
    except EarningTooFast as refusal:  # nothing was saved: the form keeps what was typed
        flash(str(refusal.message), "error")
        return _tasks_page(status=429, profile_form=form)
    earned = sum(g.granted for g in grants)
    notice = next((g.notice for g in grants if g.notice), None)
    if notice:
        flash(_("Profile saved.") + " " + str(notice), "info")
    elif any(g.capped for g in grants):
        flash(_("Profile saved. You reached the limit for bonus points: %(points)s points added.",
                points=earned), "info")
    elif earned:
        flash(_("Profile saved: +%(points)s points.", points=earned), "success")
    else:
        flash(_("Profile saved."), "success")
    return redirect(url_for(".tasks_page"))


@bp.route("/tasks/referral", methods=["POST"])
@roles_required(Role.MEMBER)
def claim_referral():
    form = ReferralForm()
    if form.validate_on_submit():
        try:
            _ip, device = request_origin()  # None for a forged or mangled cookie
            tasks.claim_referral(current_user.id, form.code.data, device_id=device, now=now())
        except tasks.ReferralRefused as refusal:
            form.code.errors.append(str(refusal.message))
        else:
            flash(_("Thanks! You and your friend both earn points after your first purchase."), "success")
            return redirect(url_for(".tasks_page"))
    return _tasks_page(status=422, referral_form=form)


@bp.route("/tasks/tier-banner/<int:change_id>/dismiss", methods=["POST"])
@roles_required(Role.MEMBER)
def dismiss_banner(change_id):
    tier_service.dismiss_banner(current_user.id, change_id, now())
    return redirect(url_for("storefront.home"))


# --- the earning-rules console ----------------------------------------------------------

def _draft(form) -> rulebook.RuleDraft:
    return rulebook.RuleDraft(kind=form.kind.data, name=form.name.data, name_zh=form.name_zh.data,
                              value=form.value.data, tier_code=form.tier_code.data or None,
                              category_slug=form.category_slug.data or None, store_id=form.store_id.data or None,
                              weekdays=tuple(form.weekdays.data or ()),
                              starts_at=local_to_utc(form.starts_at.data),
                              ends_at=local_to_utc(form.ends_at.data), skus=form.sku_list(),
                              minute_from=form.minutes()[0], minute_to=form.minutes()[1],
                              month_days=form.month_day_list(), birthday_month=bool(form.birthday_month.data),
                              segment=form.segment.data or None)


def _rule_form(rule=None):
    form = RuleForm(obj=rule) if rule is not None and request.method == "GET" else RuleForm()
    choose(form, *rulebook.rule_choices())
    if rule is not None and request.method == "GET":
        form.store_id.data = rule.store_id or 0
        form.weekdays.data = rule.weekday_list
        form.starts_at.data, form.ends_at.data = utc_to_local(rule.starts_at), utc_to_local(rule.ends_at)
        form.skus.data, form.month_days.data = ", ".join(rule.sku_list), ", ".join(map(str, rule.month_day_list))
        if rule.minute_from is not None:
            form.hours_from.data = time(rule.minute_from // 60, rule.minute_from % 60)
            form.hours_to.data = time((rule.minute_to // 60) % 24, rule.minute_to % 60)
    return form


def _preview_form():
    form = PreviewForm(request.args, meta={"csrf": False})
    choose(form, *rulebook.rule_choices())
    return form


def _console(form, status=200, rule_key=None, history=()):
    pform = _preview_form()
    result = preview(pform, local_to_utc) if request.args else None
    return render("engagement/rules.html", status=status, rules=rulebook.current_rules(), form=form,
                  rule_key=rule_key, history=history, kinds=KIND_LABELS, weekdays=dict(WEEKDAYS),
                  pform=pform, result=result, segments=SEGMENT_LABELS)


@bp.route("/console/earning-rules", methods=["GET", "POST"])
@roles_required(*DESK)
def rules_console():
    form = _rule_form()
    if request.method == "POST" and form.validate_on_submit():
        try:
            rule = rulebook.save_rule(_draft(form), actor_id=current_user.id, now=now())
        except DomainError as error:
            refuse(form, error)
        else:
            flash(_("Rule \"%(name)s\" saved (version %(v)s).", name=rule.name, v=rule.version), "success")
            return redirect(url_for(".rules_console"))
    return _console(form, status=422 if request.method == "POST" else 200)


@bp.route("/console/earning-rules/preview")
@roles_required(*DESK)
def rules_preview():
    """The live preview: HTMX swaps in the result; without JavaScript, the whole console."""
    if not wants_fragment():
        return _console(_rule_form())
    form = _preview_form()
    return render("engagement/_preview.html", pform=form, result=preview(form, local_to_utc))


@bp.route("/console/earning-rules/<rule_key>", methods=["GET", "POST"])
@roles_required(*DESK)
def edit_rule(rule_key):
    try:
        history = rulebook.rule_history(rule_key)
    except NotFound:
        abort(404)
    form = _rule_form(history[0])
    if request.method == "POST" and form.validate_on_submit():
        try:
            rule = rulebook.save_rule(_draft(form), actor_id=current_user.id, now=now(), rule_key=rule_key)
        except DomainError as error:
            refuse(form, error)
        else:
            flash(_("Rule \"%(name)s\" saved (version %(v)s). Past earns keep the version they used.",
                    name=rule.name, v=rule.version), "success")
            return redirect(url_for(".rules_console"))
    return _console(form, status=422 if request.method == "POST" else 200, rule_key=rule_key, history=history)


@bp.route("/console/earning-rules/<rule_key>/retire", methods=["POST"])
@roles_required(*DESK)
def retire_rule(rule_key):
    try:
        rule = rulebook.retire_rule(rule_key, actor_id=current_user.id, now=now())
    except NotFound:
        abort(404)
    flash(_("Rule \"%(name)s\" retired. Past earns keep their explanation.", name=rule.name), "success")
    return redirect(url_for(".rules_console"))
