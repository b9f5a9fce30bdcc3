import hashlib

from flask import Blueprint, Response, current_app, jsonify, redirect, render_template, url_for
from flask_login import current_user

from ..accounts.models import Role
from ..accounts.views import home_url
from ..clock import now
from ..redpackets.campaigns import open_for_member as open_red_packets
from ..static_files import static_url
from ..web import no_store, render, roles_required
from .card import member_card
from .offline import ready_order_ids
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


@bp.route("/card")
@roles_required(Role.MEMBER)
@no_store  # the member's code; the service worker keeps its own copy for offline use
def member_card_page():
    """The member card for the till: one tap from any page (the card link in the header)."""
    return render("storefront/card.html", card=member_card(current_user.id, now()))


# --- installable and offline (issue 17, item 4) -------------------------------------------
# The files are built from templates so they can name the versioned static files and the
# member's language; they are tiny.

OFFLINE_ASSETS = ("css/mall.css", "vendor/htmx-2.0.11.min.js", "js/mall.js", "img/icon.svg")


@bp.route("/sw.js")
def service_worker():
    """Served from the root so that its scope is the whole site. Its text names the
    versioned static files, so a new deploy changes it and browsers install the new one."""
    assets = [static_url(name) for name in OFFLINE_ASSETS]
    body = render_template("storefront/sw.js", assets=assets, version=hashlib.sha256("".join(assets).encode()).hexdigest()[:12])
    return Response(body, mimetype="text/javascript", headers={"Cache-Control": "no-cache"})


@bp.route("/manifest.webmanifest")
def web_manifest():
    # PNGs at 192 and 512 px are what browsers look for before they offer to install.
    body = render_template("storefront/manifest.webmanifest", icon=static_url("img/icon.svg"),
                           png={size: static_url(f"img/icon-{size}.png") for size in (192, 512)},
                           maskable=static_url("img/icon-maskable-512.png"))
    return Response(body, mimetype="application/manifest+json", headers={"Cache-Control": "no-cache"})


@bp.route("/offline")
def offline():
    """What a page the service worker has not kept shows with no signal."""
    return render("storefront/offline.html")


@bp.route("/offline/keep")
@roles_required(Role.MEMBER)
@no_store
def offline_keep():
    """The pages the service worker keeps for this member: the card and each ready order."""
    keep = [url_for("storefront.member_card_page")] + [url_for("checkout.order", order_id=i)
                                                       for i in ready_order_ids(current_user.id)]
    return jsonify(keep=keep)
