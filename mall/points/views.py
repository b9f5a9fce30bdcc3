from flask import Blueprint, request
from flask_login import current_user

from ..accounts.models import Role
from ..web import int_arg, render, roles_required
from .explain import explain, kind_label
from .statement import STATEMENT_FILTERS, statement

bp = Blueprint("points", __name__, url_prefix="/points")
bp.add_app_template_global(explain)  # statement lines explained on every page that lists them
bp.add_app_template_global(kind_label)


@bp.route("/statement")
@roles_required(Role.MEMBER)
def statement_page():
    page = statement(current_user.id, kind=request.args.get("kind"), page=int_arg("page"))
    return render("points/statement.html", "points/_entries.html", statement=page,
                  filters=list(STATEMENT_FILTERS))
