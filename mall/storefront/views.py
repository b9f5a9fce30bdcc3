from flask import Blueprint, current_app, redirect, url_for
from flask_login import current_user

from ..accounts.models import Role
from ..accounts.views import home_url
from ..clock import now
from ..web import render
from ..redpackets.campaigns import open_for_member as open_red_packets
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
    return render("storefront/home.html", home=summary, red_packets=open_red_packets(current_user.id, now(), limit=3))
