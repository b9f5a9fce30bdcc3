from flask import Blueprint, current_app, redirect, url_for
from flask_login import current_user

from ..accounts.models import Role
from ..accounts.views import home_url
from ..clock import now
from ..web import render, roles_required
from .card import member_card
from .services import member_home

bp = Blueprint("storefront", __name__)


@bp.route("/")
def home():
    if not current_user.is_authenticated:
        return redirect(url_for("catalog.index"))
    if current_user.role != Role.MEMBER:
        return redirect(home_url(current_user))
    summary = member_home(current_user.id, now(),
                          warning_days=current_app.config["MALL_EXPIRY_WARNING_DAYS"])
    return render("storefront/home.html", home=summary)


@bp.route("/card")
@roles_required(Role.MEMBER)
def member_card_page():
    """The member card for the till: one tap from any page (the card link in the header)."""
    return render("storefront/card.html", card=member_card(current_user.id, now()))
