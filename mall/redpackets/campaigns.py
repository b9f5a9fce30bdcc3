"""Creating, closing and finding red-packet campaigns, and who may claim from them.

A campaign's packets are planned when it is created (amounts.plan): the count is fixed
then, and each claim draws from what is left (claims.py). Creating refuses, writing nothing,
when the total can't be paid inside the range, the window is empty, or the validity ends
before the window does.
"""
import secrets
from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select

from ..accounts.auditlog import audit
from ..accounts.models import Role, User
from ..engagement.models import SEGMENTS
from ..engagement.segments import segment_of
from ..errors import DomainError, NotFound
from ..extensions import db
from ..pagination import paginate
from ..points.models import Tier
from ..points.tiers import tier_status
from .amounts import Unpayable, plan
from .models import AUDIENCES, Audience, Mode, RedPacketCampaign, RedPacketClaim, Status


class CampaignNotPayable(DomainError):
    message = _l("The total can't be shared out inside that range: give a total between "
                 "the number of packets × the smallest and × the largest amount.")
    field = "total"


class CampaignWindowInvalid(DomainError):
    message = _l("The claim window must end after it starts, and in the future.")
    field = "ends_at"


class CampaignValidityInvalid(DomainError):
    message = _l("Give either a last day of use after the claim window ends, or a number of days from the claim.")
    field = "valid_until"


class AudienceInvalid(DomainError):
    message = _l("Choose the tier or the segment that may claim.")
    field = "audience"


@dataclass(frozen=True)
class NewCampaign:
    name: str
    name_zh: str | None
    total_minor: int
    min_minor: int
    max_minor: int
    starts_at: datetime
    ends_at: datetime
    count: int | None = None
    audience: str = Audience.EVERYONE.value
    tier_id: int | None = None
    segment: str | None = None
    limit_per_member: int = 1
    valid_until: datetime | None = None
    valid_days: int | None = None
    store_id: int | None = None


def create_campaign(spec: NewCampaign, *, actor_id: int | None, now: datetime) -> RedPacketCampaign:
    """A new open campaign with its share token. Raises (writing nothing) CampaignNotPayable,
    CampaignWindowInvalid, CampaignValidityInvalid or AudienceInvalid."""
    try:
        packets = plan(spec.total_minor, spec.min_minor, spec.max_minor, spec.count)
    except Unpayable:
        raise CampaignNotPayable()
    if spec.ends_at <= spec.starts_at or spec.ends_at <= now:
        raise CampaignWindowInvalid()
    if (spec.valid_until is None) == (spec.valid_days is None) \
            or (spec.valid_until is not None and spec.valid_until <= spec.ends_at) \
            or (spec.valid_days is not None and spec.valid_days <= 0):
        raise CampaignValidityInvalid()
    if spec.audience not in AUDIENCES \
            or (spec.audience == Audience.TIER.value and db.session.get(Tier, spec.tier_id or 0) is None) \
            or (spec.audience == Audience.SEGMENT.value and spec.segment not in SEGMENTS):
        raise AudienceInvalid()
    campaign = RedPacketCampaign(
        store_id=spec.store_id, name=spec.name.strip()[:80], name_zh=(spec.name_zh or "").strip()[:80] or None,
        mode=Mode.FIXED.value if spec.min_minor == spec.max_minor else Mode.RANDOM.value,
        total_minor=packets.total_minor, min_minor=packets.min_minor, max_minor=packets.max_minor,
        packet_count=packets.count, remaining_minor=packets.total_minor, remaining_count=packets.count,
        audience=spec.audience, tier_id=spec.tier_id if spec.audience == Audience.TIER.value else None,
        segment=spec.segment if spec.audience == Audience.SEGMENT.value else None,
        limit_per_member=spec.limit_per_member, starts_at=spec.starts_at, ends_at=spec.ends_at,
        valid_until=spec.valid_until, valid_days=spec.valid_days if spec.valid_until is None else None,
        share_token=secrets.token_urlsafe(24), status=Status.OPEN.value, created_by=actor_id, created_at=now)
    db.session.add(campaign)
    db.session.flush()
    audit(actor_id, "red_packet_campaign_created", "red_packet_campaign", campaign.id, "", now,
          total_minor=campaign.total_minor, packets=campaign.packet_count, store_id=spec.store_id)
    return campaign


def close_campaign(campaign_id: int, *, actor_id: int, now: datetime) -> RedPacketCampaign:
    """No further claims. Closing twice changes nothing. What was claimed stays in wallets."""
    campaign = get_campaign(campaign_id)
    if campaign.status != Status.CLOSED.value:
        campaign.status, campaign.closed_at = Status.CLOSED.value, now
        db.session.flush()
        audit(actor_id, "red_packet_campaign_closed", "red_packet_campaign", campaign.id, "", now)
    return campaign


def get_campaign(campaign_id: int) -> RedPacketCampaign:
    campaign = db.session.get(RedPacketCampaign, campaign_id)
    if campaign is None:
        raise NotFound()
    return campaign


def by_token(token: str) -> RedPacketCampaign:
    """The campaign a share link names; NotFound for any other text."""
    text = (token or "").strip()
    campaign = db.session.scalar(select(RedPacketCampaign).where(RedPacketCampaign.share_token == text)) \
        if 20 <= len(text) <= 43 else None
    if campaign is None:
        raise NotFound()
    return campaign


def is_eligible(campaign: RedPacketCampaign, member_id: int, now: datetime) -> bool:
    """May this member claim (audience only; window, stock and limit are checked by the claim)."""
    member = db.session.get(User, member_id)
    if member is None or member.role != Role.MEMBER.value or member.is_frozen:
        return False
    if campaign.audience == Audience.TIER.value:
        tier = db.session.get(Tier, campaign.tier_id)
        return tier is not None and tier_status(member_id, now).tier.rank >= tier.rank
    if campaign.audience == Audience.SEGMENT.value:
        return segment_of(member_id) == campaign.segment
    return True  # everyone, or anyone with the link


def claims_by(campaign_id: int, member_id: int) -> list[RedPacketClaim]:
    return list(db.session.scalars(select(RedPacketClaim).where(
        RedPacketClaim.campaign_id == campaign_id, RedPacketClaim.account_id == member_id)
        .order_by(RedPacketClaim.n)))


def recent_claims(member_id: int, limit: int = 20) -> list[tuple[RedPacketClaim, RedPacketCampaign]]:
    """The member's latest red packets, newest first, with their campaigns."""
    return list(db.session.execute(
        select(RedPacketClaim, RedPacketCampaign)
        .join(RedPacketCampaign, RedPacketCampaign.id == RedPacketClaim.campaign_id)
        .where(RedPacketClaim.account_id == member_id)
        .order_by(RedPacketClaim.claimed_at.desc(), RedPacketClaim.id.desc()).limit(limit)).all())


def open_for_member(member_id: int, now: datetime, limit: int = 10) -> list[RedPacketCampaign]:
    """Open, running campaigns listed to this member (not link-only ones) that still have
    packets, which they are eligible for and have not used up their limit on."""
    claimed = (select(func.count()).where(RedPacketClaim.campaign_id == RedPacketCampaign.id,
                                          RedPacketClaim.account_id == member_id).scalar_subquery())
    rows = db.session.scalars(select(RedPacketCampaign).where(
        RedPacketCampaign.status == Status.OPEN.value, RedPacketCampaign.starts_at <= now,
        RedPacketCampaign.ends_at > now, RedPacketCampaign.remaining_count > 0,
        RedPacketCampaign.audience != Audience.LINK.value,
        claimed < RedPacketCampaign.limit_per_member).order_by(RedPacketCampaign.ends_at).limit(limit * 3))
    return [c for c in rows if is_eligible(c, member_id, now)][:limit]


def campaign_list(page: int = 1, per_page: int = 20, *, store_ids: list[int] | None = None):
    """Campaigns for the operator's list, newest first (store_ids: only those stores')."""
    query = select(RedPacketCampaign)
    if store_ids is not None:
        query = query.where(or_(RedPacketCampaign.store_id.in_(store_ids)))
    p = paginate(query.order_by(RedPacketCampaign.created_at.desc(), RedPacketCampaign.id.desc()), page, per_page)
    return p.items, p.page, p.pages


def all_tiers_for_choice() -> list[Tier]:
    return list(db.session.scalars(select(Tier).order_by(Tier.rank)))
