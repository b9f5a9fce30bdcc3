"""What the service worker keeps for use with no signal (stores often have none): the
member card and the page of every order ready for pickup."""
from sqlalchemy import select

from ..checkout.models import Order
from ..extensions import db


def ready_order_ids(member_id: int) -> list[int]:
    """Orders waiting at a store for this member, newest first (at most 20: a member with
    more than that has bigger problems than signal)."""
    return list(db.session.scalars(select(Order.id).where(Order.member_id == member_id, Order.status == "ready")
                                   .order_by(Order.id.desc()).limit(20)))
