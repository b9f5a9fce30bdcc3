from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, request, session, url_for
from flask_babel import get_locale, gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from ..clock import now
from ..errors import DomainError
from ..extensions import login_manager
from ..notifications import mail  # looked up per call (tests swap the mailer)
from ..origin import request_origin
from ..risk.services import record_sighting, seen_on_device
from ..security import login_limit, register_limit, reset_limit
from ..web import refuse, render
from . import services
from .forms import ForgotPasswordForm, LocaleForm, LoginForm, RegisterForm, ResetPasswordForm
from .models import Role
from .throttle import LocalAttempts, LoginSlowedDown, LoginThrottle, RedisAttempts, SlowDown

bp = Blueprint("accounts", __name__)

HOME_BY_ROLE = {Role.MEMBER: "storefront.home", Role.MERCHANDISER: "console.index",
                Role.STORE_STAFF: "instore.counter", Role.HQ: "hq.index"}


@login_manager.user_loader
def load_user(alternative_id: str):
    """Sessions and remember-me cookies carry "<id>:<session version>" (User.get_id)."""
    return services.user_for_session(alternative_id)


def _safe_next(target: str | None) -> str | None:
    """Only same-site paths, so a crafted link can't bounce a member to another site."""
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return None


def home_url(user) -> str:
    return url_for(HOME_BY_ROLE.get(Role(user.role), "storefront.home"))


def _login_throttle() -> LoginThrottle:
    """The per-account slow-down from the settings, on the app's Redis (in-process without)."""
    config, extensions = current_app.config, current_app.extensions
    attempts = extensions.get("mall.login_attempts")
    if attempts is None:
        client = extensions.get("mall.redis")
        attempts = extensions["mall.login_attempts"] = RedisAttempts(client) if client is not None else LocalAttempts()
    return LoginThrottle(attempts, SlowDown.from_setting(config["MALL_RATELIMIT_LOGIN_PER_ACCOUNT"],
                                                         config["MALL_RATELIMIT_LOGIN_MAX_DELAY"]))


def _login_bucket(identifier: str) -> tuple[LoginThrottle, str, bool]:
    """The slow-down for this attempt: the account's shared bucket, or the owner's own when
    the account has logged in from this device before (others' failures don't slow it)."""
    throttle, name = _login_throttle(), services.login_name(identifier)
    user, device = services.find_by_identifier(identifier), request_origin()[1]
    own_device = user is not None and seen_on_device(user.id, device)
    return throttle, throttle.key(name, known_device=device if own_device else None), own_device


@bp.route("/login", methods=["GET", "POST"])
@login_limit
def login():
    if current_user.is_authenticated:
        return redirect(home_url(current_user))
    form = LoginForm(next=request.args.get("next"))
    if form.validate_on_submit():
        throttle, key, own_device = _login_bucket(form.identifier.data)
        wait = throttle.admit(key, now())
        if wait:  # refused before the password is checked, and not counted as a failure
            refuse(form, LoginSlowedDown(wait))
            page, status = render("accounts/login.html", form=form, status=429)
            return page, status, {"Retry-After": str(wait)}
        try:
            user = services.authenticate(form.identifier.data, form.password.data)
        except DomainError as error:
            refuse(form, error)
        else:
            throttle.succeeded(key, own_device=own_device)
            login_user(user, remember=form.remember.data)
            if user.locale:  # pages then pick the language without loading the account
                session["locale"] = user.locale
            ip, device = request_origin()  # for risk control's shared-device clusters
            record_sighting(user.id, device=device, ip=ip, now=now())
            return redirect(_safe_next(form.next.data) or home_url(user))
    return render("accounts/login.html", form=form, status=422 if form.errors or form.form_errors else 200)


@bp.route("/register", methods=["GET", "POST"])
@register_limit
def register():
    if current_user.is_authenticated:
        return redirect(home_url(current_user))
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            user = services.register(form.identifier.data, form.password.data, form.display_name.data,
                                     now=now(), locale=session.get("locale") or str(get_locale()))
        except DomainError as error:
            refuse(form, error)
        else:
            login_user(user)
            ip, device = request_origin()
            record_sighting(user.id, device=device, ip=ip, now=now())
            flash(_("Welcome to Point Mall, %(name)s!", name=user.display_name), "success")
            return redirect(url_for("storefront.home"))
    return render("accounts/register.html", form=form, status=422 if form.errors or form.form_errors else 200)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    services.end_sessions(current_user.id)  # every session and remember-me cookie of the account
    logout_user()
    flash(_("You have logged out."), "info")
    return redirect(url_for("accounts.login"))


@bp.route("/locale", methods=["POST"])
def set_locale():
    form = LocaleForm()
    if form.validate_on_submit():
        session["locale"] = form.locale.data
        if current_user.is_authenticated:
            services.set_locale(current_user.id, form.locale.data)
    return redirect(_safe_next(form.next.data) or url_for("storefront.home"))


@bp.route("/password/forgot", methods=["GET", "POST"])
@reset_limit
def forgot_password():
    """One answer whether or not the login exists, so this page can't be used to find out
    who has an account (the email, if any, goes only to the account's own address)."""
    form = ForgotPasswordForm()
    sent = False
    if form.validate_on_submit():
        found = services.request_password_reset(form.identifier.data)
        if found is not None:
            _send_reset_email(*found)
        sent = True
    return render("accounts/forgot.html", form=form, sent=sent, status=422 if form.errors else 200)


def _send_reset_email(user, token: str) -> None:
    from flask import current_app
    from flask_babel import force_locale

    link = current_app.config.get("MALL_BASE_URL", request.host_url.rstrip("/")) + url_for(
        "accounts.reset_password", token=token)
    with force_locale(user.locale or "en"):
        subject = _("Reset your Point Mall password")
        body = _("Someone (hopefully you) asked to reset the password of your Point Mall account.\n\n"
                 "Choose a new password here within one hour:\n%(link)s\n\n"
                 "If it wasn't you, ignore this email: your password stays as it is.", link=link)
    try:
        mail.mailer_for(current_app.config).send(mail.build_message(user.email, subject, body,
                                                          message_id_key=f"reset-{user.id}-{token[-12:]}"))
    except OSError:  # the mail server is down: the answer stays the same, the member can retry
        current_app.logger.warning("password reset email for user %s not sent", user.id)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    form = ResetPasswordForm()
    try:
        services.check_reset_token(token)
    except DomainError as error:
        return render("accounts/reset.html", form=None, invalid=str(error.message), status=400)
    if form.validate_on_submit():
        try:
            services.reset_password(token, form.password.data)
        except DomainError as error:
            refuse(form, error)
        else:
            flash(_("Your password is changed. Log in with the new one."), "success")
            return redirect(url_for("accounts.login"))
    return render("accounts/reset.html", form=form, invalid=None, status=422 if form.errors or form.form_errors else 200)
