"""Template helpers for rights: what a right item grants (the checkout's confirmation step)
and the member's rights in force (templates/wallet/_rights.html)."""
from datetime import timedelta

from flask import Blueprint
from flask_login import current_user

from ..clock import now
from . import services

bp = Blueprint("rights", __name__)


def right_offer_for(item):
    """(label, valid until) a purchase of the right item would grant now (extending one the
    member holds: services.renewal_start); None without a spec."""
    spec = services.spec_for(item.id)
    if spec is None:
        return None
    member_id = current_user.id if current_user.is_authenticated else None
    start = services.renewal_start(member_id, spec.right_kind, now())
    return {"label": str(services.RIGHT_LABELS[spec.right_kind]), "until": start + timedelta(days=spec.valid_days),
            "days": spec.valid_days}


def my_rights():
    if not current_user.is_authenticated:
        return []
    return services.held_by(current_user.id, now())


@bp.app_context_processor
def right_helpers():
    return {"right_offer_for": right_offer_for, "my_rights": my_rights}
