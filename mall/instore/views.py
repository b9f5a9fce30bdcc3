from flask import Blueprint, request

from ..accounts.models import Role
from ..clock import now
from ..errors import NotFound
from ..web import render, roles_required
from .forms import MemberLookupForm
from .services import lookup_member

bp = Blueprint("instore", __name__, url_prefix="/counter")


@bp.route("")
@roles_required(Role.STORE_STAFF)
def counter():
    form = MemberLookupForm(request.args)
    member, status = None, 200
    if "q" in request.args and form.validate():
        try:
            member = lookup_member(form.q.data, now())
        except NotFound:
            form.q.errors.append(str(NotFound.message))
            status = 404
    elif "q" in request.args:
        status = 422
    return render("instore/counter.html", "instore/_member.html", form=form, member=member,
                  status=status)
