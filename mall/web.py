"""Request-side glue shared by every blueprint: HTMX detection, page-or-fragment rendering,
role guards and the current clock. Our only contact with htmx-flask (last released 2022),
so it can be swapped out in one place."""
from functools import wraps

from flask import abort, redirect, render_template, request
from flask_login import current_user
from htmx_flask import Htmx

from .extensions import login_manager

htmx = Htmx()


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
    try:
        return max(int(request.args.get(name, default)), 1)
    except (TypeError, ValueError):
        return default


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
