"""Request-side glue shared by every blueprint: HTMX detection, page-or-fragment rendering,
role guards and the current clock. Our only contact with htmx-flask (last released 2022),
so it can be swapped out in one place."""
import re
from functools import wraps

from flask import abort, current_app, make_response, redirect, render_template, request
from flask.sessions import SecureCookieSessionInterface
from flask_babel import gettext as _
from flask_login import current_user
from htmx_flask import Htmx
from werkzeug.exceptions import BadRequest, HTTPException
from werkzeug.routing import IntegerConverter

from .extensions import login_manager

htmx = Htmx()

# The widest whole number any id column or integer column holds (PostgreSQL's INTEGER).
# Larger numbers in a URL, a query or a form are refused at the edge, never sent to the DB.
MAX_INT = 2**31 - 1


class BoundedIntConverter(IntegerConverter):
    """`<int:...>` app-wide: ASCII digits, 0 to MAX_INT. Anything beyond is no such page (404)
    instead of an "integer out of range" from the database."""

    def __init__(self, map, **kwargs):
        kwargs.setdefault("max", MAX_INT)
        super().__init__(map, **kwargs)


def bounded_int(value, default=None):
    """A whole number written in ASCII digits within the INTEGER range, else `default`."""
    text = str(value).strip() if value is not None else ""
    if not (text.isascii() and text.lstrip("-").isdigit()) or len(text) > 11:
        return default
    number = int(text)
    return number if -MAX_INT <= number <= MAX_INT else default


# Text the member could not have typed: the C0 and C1 control characters (Unicode category
# Cc; NUL among them, which PostgreSQL refuses in text), except the tab and the line breaks a
# textarea sends.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def has_control_characters(text: str) -> bool:
    return _CONTROL.search(text) is not None


class ControlCharacters(BadRequest):
    """400 for a query or form value with control characters, in the reader's language."""

    def __init__(self):
        super().__init__(_("Remove the control characters (such as NUL) from what you entered."))


def refuse_control_characters() -> None:
    """Before every request: path segments, query and form values (and their names) must be
    text a person could type. Once, here, for every form, filter and search box in the app."""
    if any(isinstance(v, str) and has_control_characters(v) for v in (request.view_args or {}).values()):
        raise ControlCharacters()  # a path segment (%00 decodes to NUL)
    sources = (request.args, request.form) if request.method != "GET" else (request.args,)
    for source in sources:
        for name, value in source.items(multi=True):
            if has_control_characters(name) or has_control_characters(value):
                raise ControlCharacters()


def no_store(view):
    """Answers no cache may keep (`Cache-Control: no-store`): pages showing a pickup code,
    HQ exports. The mark survives decorators that use functools.wraps."""
    view.no_store = True
    return view


def _cache_control(response):
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    if getattr(view, "no_store", False):
        response.headers["Cache-Control"] = "no-store"
    return response


# Paths whose errors are answered by their own handler (the POS API answers JSON), so that
# 404 for an unknown path and 405 for a wrong method there keep the documented shape.
_ERROR_ANSWERS: dict[str, object] = {}


def answer_errors_under(prefix: str, handler) -> None:
    _ERROR_ANSWERS[prefix] = handler


def error_page(error: HTTPException, code: int):
    """The designed error page (or the JSON of the prefix that owns the path); 405 says
    which methods the URL takes."""
    for prefix, handler in _ERROR_ANSWERS.items():
        if request.path.startswith(prefix):
            response = handler(error)
            break
    else:
        message = error.description if isinstance(error, ControlCharacters) else None
        response = make_response(render_template("errors/error.html", code=code, message=message), code)
    if code == 405 and getattr(error, "valid_methods", None):
        response.headers["Allow"] = ", ".join(sorted(error.valid_methods))
    return response


def init_app(app) -> None:
    """The edge, installed by create_app before any blueprint (rules bind their converters
    when they are added)."""
    app.url_map.converters["int"] = BoundedIntConverter
    app.before_request(refuse_control_characters)
    app.after_request(_cache_control)
    app.session_interface = BackgroundQuietSessions()


BACKGROUND_HEADER = "X-Mall-Background"


class BackgroundQuietSessions(SecureCookieSessionInterface):
    """The service worker refreshes the pages it keeps offline (static/…/sw.js) in the
    background, marked with X-Mall-Background. Such a fetch may start before a login or a
    language switch and be answered after it: had it written the session cookie, its stale
    copy would overwrite the new one (the member logged out, or back in the old language).
    So a background answer never sets or deletes the cookie."""

    def save_session(self, app, session, response) -> None:
        if request.headers.get(BACKGROUND_HEADER):
            return
        super().save_session(app, session, response)


def wants_fragment() -> bool:
    """True for an HTMX request that swaps part of a page; boosted navigation gets pages."""
    hx = getattr(request, "htmx", None)
    return bool(hx) and not hx.boosted


def render(page_template: str, fragment_template: str | None = None, status: int = 200, **context):
    """The whole page, or only its fragment when HTMX swaps part of the page."""
    template = fragment_template if fragment_template and wants_fragment() else page_template
    return render_template(template, **context), status


def refuse(form, error) -> None:
    """Show a domain refusal next to its field, or above the form when it names none (or a
    field that was never validated, whose errors are still an empty tuple)."""
    field = getattr(form, error.field or "", None)
    target = field.errors if field is not None and hasattr(field.errors, "append") else form.form_errors
    target.append(str(error.message))


def redirect_to(target: str):
    """Redirect, also from an HTMX request: there a 302 would be followed inside the XHR and
    the next page swapped into the fragment, so send HX-Redirect on a 200 instead."""
    if getattr(request, "htmx", None) and not request.htmx.boosted:
        return "", 200, {"HX-Redirect": target}
    return redirect(target)


def roles_required(*roles: str):
    """Guard a view: anonymous users go to log in, other roles get a 403 page."""
    def decorate(view):
        @wraps(view)
        def guarded(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not current_user.has_role(*roles):
                abort(403)
            return view(*args, **kwargs)
        return guarded
    return decorate


def int_arg(name: str, default: int = 1) -> int:
    """A page number or similar from the query: ASCII digits, 1 to MAX_INT, else `default`."""
    number = bounded_int(request.args.get(name), default)
    return max(number, 1) if number is not None else default


def local_to_utc(value):
    """A naive date-time typed in the reader's time zone (a datetime-local field) as aware
    UTC. Babel localises it properly: pytz zones must not be attached with replace()."""
    from datetime import timezone

    from flask_babel import to_utc
    return to_utc(value).replace(tzinfo=timezone.utc) if value else None


def utc_to_local(value):
    """Aware UTC as the naive local date-time a datetime-local field shows."""
    from flask_babel import to_user_timezone
    return to_user_timezone(value).replace(tzinfo=None) if value else None
