"""Red-packet pages: the member's campaign page (reached by its share link) with the Open
button, the member's list of open campaigns, and HQ's campaigns (create, view with the share
link and its QR, close)."""
from decimal import Decimal

from flask import Blueprint, abort, flash, redirect, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.routing import BuildError

from ..accounts.models import Role
from ..clock import now
from ..errors import DomainError, NotFound
from ..instore.api_keys import all_stores
from ..instore.codes import qr_svg
from ..templating import localized
from ..web import int_arg, local_to_utc, no_store, redirect_to, refuse, render, roles_required
from . import campaigns as service
from .claims import NotEligible, claim, refusal_for
from .forms import CampaignForm, ClaimForm, CloseForm

bp = Blueprint("redpackets", __name__)


def wallet_url() -> str:
    """The member's wallet page (the wallet domain's), else their red-packet list."""
    try:
        return url_for("wallet.index")
    except BuildError:  # the wallet's pages are not registered (yet)
        return url_for("redpackets.member_list")


@bp.context_processor
def _links() -> dict:
    return {"wallet_url": wallet_url()}


def _fen(amount: Decimal | None) -> int | None:
    return int(amount * 100) if amount is not None else None


def _campaign_or_404(token: str):
    try:
        return service.by_token(token)
    except NotFound:
        abort(404)


# --- member ---------------------------------------------------------------------------

@bp.route("/red-packets/<token>")
def campaign_page(token: str):
    """Anyone with the link sees the campaign; members see whether they can open it."""
    campaign = _campaign_or_404(token)
    member_id = current_user.id if current_user.is_authenticated and current_user.has_role(Role.MEMBER) else None
    refusal = refusal_for(campaign, member_id, now())
    if refusal is None and current_user.is_authenticated and member_id is None:
        refusal = NotEligible()  # staff accounts see the campaign but don't claim
    return render("redpackets/campaign.html", campaign=campaign, refusal=refusal, form=ClaimForm(),
                  mine=service.claims_by(campaign.id, member_id) if member_id else [])


@bp.route("/red-packets/<token>/open", methods=["POST"])
def open_packet(token: str):
    """The Open button: one claim. Logged-out visitors are sent to log in and back."""
    if not current_user.is_authenticated:
        return redirect(url_for("accounts.login", next=url_for("redpackets.campaign_page", token=token)))
    if not current_user.has_role(Role.MEMBER):
        abort(403)
    campaign = _campaign_or_404(token)
    form = ClaimForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        result = claim(campaign.id, current_user.id, now=now())
    except DomainError as error:
        return render("redpackets/campaign.html", "redpackets/_open.html", status=409, campaign=campaign,
                      refusal=error, form=form, mine=service.claims_by(campaign.id, current_user.id))
    return render("redpackets/campaign.html", "redpackets/_open.html", campaign=campaign, refusal=None,
                  result=result, form=form, mine=service.claims_by(campaign.id, current_user.id))


@bp.route("/red-packets")
@roles_required(Role.MEMBER)
def member_list():
    return render("redpackets/list.html", campaigns=service.open_for_member(current_user.id, now()),
                  claimed=service.recent_claims(current_user.id))


# --- HQ -----------------------------------------------------------------------------------

def _campaign_form() -> CampaignForm:
    form = CampaignForm()
    form.store_id.choices = [("", _("HQ (programme budget: red packets)"))] + \
        [(s.id, localized(s, "name")) for s in all_stores()]
    form.tier_id.choices = [("", "—")] + [(t.id, localized(t, "name")) for t in service.all_tiers_for_choice()]
    return form


@bp.route("/hq/red-packets", methods=["GET", "POST"])
@roles_required(Role.HQ)
def campaigns():
    form = _campaign_form()
    if form.validate_on_submit():
        fixed = form.mode.data == "fixed"
        low = _fen(form.min_amount.data)
        spec = service.NewCampaign(
            name=form.name.data, name_zh=form.name_zh.data, total_minor=_fen(form.total.data), min_minor=low,
            max_minor=low if fixed else (_fen(form.max_amount.data) or low), count=form.count.data,
            starts_at=local_to_utc(form.starts_at.data), ends_at=local_to_utc(form.ends_at.data),
            audience=form.audience.data, tier_id=form.tier_id.data, segment=form.segment.data or None,
            limit_per_member=form.limit_per_member.data, valid_until=local_to_utc(form.valid_until.data),
            valid_days=form.valid_days.data, store_id=form.store_id.data)
        try:
            campaign = service.create_campaign(spec, actor_id=current_user.id, now=now())
        except DomainError as error:
            refuse(form, error)
        else:
            flash(_("Campaign created. Share its link."), "success")
            return redirect_to(url_for("redpackets.campaign_detail", campaign_id=campaign.id))
    items, page, pages = service.campaign_list(int_arg("page"))
    status = 422 if form.errors or form.form_errors else 200
    return render("redpackets/hq_campaigns.html", form=form, campaigns=items, page=page, pages=pages,
                  status=status)


@bp.route("/hq/red-packets/<int:campaign_id>")
@roles_required(Role.HQ)
@no_store
def campaign_detail(campaign_id: int):
    try:
        campaign = service.get_campaign(campaign_id)
    except NotFound:
        abort(404)
    link = url_for("redpackets.campaign_page", token=campaign.share_token, _external=True)
    return render("redpackets/hq_campaign.html", campaign=campaign, link=link, qr=qr_svg(link), form=CloseForm())


@bp.route("/hq/red-packets/<int:campaign_id>/close", methods=["POST"])
@roles_required(Role.HQ)
def close(campaign_id: int):
    form = CloseForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        service.close_campaign(campaign_id, actor_id=current_user.id, now=now())
    except NotFound:
        abort(404)
    flash(_("Campaign closed: no further claims."), "success")
    return redirect_to(url_for("redpackets.campaign_detail", campaign_id=campaign_id))
