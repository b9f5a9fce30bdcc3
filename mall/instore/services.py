"""Counter look-ups: enough for staff to recognise a member, no more (masked name)."""
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select

from ..accounts.models import Role, User
from ..errors import NotFound
from ..extensions import db
from ..points.statement import balance
from ..points.tiers import TierStatus, tier_status


@dataclass(frozen=True)
class MemberAtCounter:
    masked_name: str
    member_code: str
    masked_mobile: str | None
    tier: TierStatus
    points: int
    frozen: bool


def mask_name(name: str) -> str:
    return name[:1] + "*" * max(len(name) - 1, 1)


def mask_mobile(mobile: str | None) -> str | None:
    return None if not mobile else mobile[:3] + "****" + mobile[-4:]


def lookup_member(query: str, now: datetime) -> MemberAtCounter:
    """Find a member by mobile number or member code. Raises NotFound."""
    q = (query or "").strip().replace(" ", "")
    member = db.session.scalar(select(User).where(
        User.role == Role.MEMBER.value, or_(User.mobile == q, User.member_code == q.upper())))
    if not q or member is None:
        raise NotFound()
    return MemberAtCounter(masked_name=mask_name(member.display_name), member_code=member.member_code,
                           masked_mobile=mask_mobile(member.mobile), tier=tier_status(member.id, now),
                           points=balance(member.id, now).points, frozen=member.is_frozen)
