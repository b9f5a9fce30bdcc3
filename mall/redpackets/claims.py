"""Claiming a red packet: one packet from a campaign into the member's wallet.

Why concurrent claims can't overshoot the budget or a member's limit (docs/redpackets.md):
the campaign row is locked first (SELECT ... FOR UPDATE; PostgreSQL makes every other
claimer wait and then read the new remainder), the member's claims are counted under that
lock, the amount is drawn from the locked remainder (amounts.draw keeps every packet left
payable), and the campaign's remainder is updated in the same transaction. Behind the code,
CHECK (remaining >= 0, remainder payable) and UNIQUE (campaign, member, n) refuse any write
that would break the rules even if the lock were skipped. The budget is charged last (the
wallet's issue charges its face value with one conditional UPDATE on the budget's month row),
so that row's lock is held only until commit.

A refusal writes nothing: the checks run before any write, and the writes run in a savepoint
that a budget refusal rolls back.
"""
from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from ..errors import DomainError
from ..extensions import db
from ..wallet.issue import Budget, CouponBudgetExhausted, issue_red_packet
from .amounts import draw
from .campaigns import get_campaign, is_eligible
from .models import RedPacketCampaign, RedPacketClaim, Status

BUDGET_TARGET = "red-packets"  # the programme budget HQ campaigns are charged to


class CampaignNotStarted(DomainError):
    message = _l("This red-packet campaign hasn't started yet.")


class CampaignEnded(DomainError):
    message = _l("This red-packet campaign has ended.")


class AllClaimed(DomainError):
    message = _l("All the red packets have been claimed.")


class LimitReached(DomainError):
    message = _l("You have already claimed as many red packets from this campaign as you may.")


class NotEligible(DomainError):
    message = _l("This red-packet campaign is for other members.")


class BudgetUsedUp(DomainError):
    message = _l("This campaign's budget is used up for now; nothing was claimed.")


@dataclass(frozen=True)
class Claimed:
    claim: RedPacketClaim
    wallet_item_id: int
    amount_minor: int


def refusal_for(campaign: RedPacketCampaign, member_id: int | None, now: datetime,
                claimed: int | None = None, *, audience: bool = True) -> DomainError | None:
    """Why this member can't claim now (the first reason in the order a member would want to
    hear it), or None. Read-only; the claim re-checks under the row lock."""
    if campaign.status == Status.CLOSED.value or now >= campaign.ends_at:
        return CampaignEnded()
    if now < campaign.starts_at:
        return CampaignNotStarted()
    if campaign.remaining_count <= 0:
        return AllClaimed()
    if member_id is None:
        return None
    if audience and not is_eligible(campaign, member_id, now):
        return NotEligible()
    if claimed is None:
        claimed = _claims_count(campaign.id, member_id)
    if claimed >= campaign.limit_per_member:
        return LimitReached()
    return None


def _claims_count(campaign_id: int, member_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(RedPacketClaim).where(
        RedPacketClaim.campaign_id == campaign_id, RedPacketClaim.account_id == member_id))


def claim(campaign_id: int, member_id: int, *, now: datetime) -> Claimed:
    """Take the next packet for the member and put it in their wallet, charging its value to
    the store's budget (a store's campaign) or the programme budget "red-packets".

    Raises, writing nothing: NotFound, CampaignEnded, CampaignNotStarted, AllClaimed,
    NotEligible, LimitReached, BudgetUsedUp."""
    # Who may claim is read before the lock (it doesn't depend on other claims), so the
    # lock is held only for the cheap checks and the writes.
    refusal = refusal_for(get_campaign(campaign_id), member_id, now)
    if refusal is not None:
        raise refusal
    # The lock: every claim on this campaign queues here (populate_existing: read the row
    # as the lock holder left it, not as this session first saw it).
    campaign = db.session.execute(select(RedPacketCampaign).where(RedPacketCampaign.id == campaign_id)
                                  .with_for_update().execution_options(populate_existing=True)).scalar_one()
    claimed = _claims_count(campaign_id, member_id)
    refusal = refusal_for(campaign, member_id, now, claimed, audience=False)
    if refusal is not None:
        raise refusal
    amount = draw(campaign.remaining_minor, campaign.remaining_count, campaign.min_minor, campaign.max_minor)
    try:
        with db.session.begin_nested():
            campaign.remaining_minor -= amount
            campaign.remaining_count -= 1
            row = RedPacketClaim(campaign_id=campaign.id, account_id=member_id, n=claimed + 1,
                                 amount_minor=amount, claimed_at=now)
            db.session.add(row)
            db.session.flush()
            item = issue_red_packet(
                member_id, amount, source_ref=f"claim:{row.id}", now=now, valid_until=campaign.valid_until,
                valid_days=campaign.valid_days, name=campaign.name, name_zh=campaign.name_zh or campaign.name,
                store_id=campaign.store_id, budget=Budget(store_id=campaign.store_id, target=BUDGET_TARGET))
            row.wallet_item_id = item.id
            db.session.flush()
    except CouponBudgetExhausted:
        raise BudgetUsedUp()
    return Claimed(row, item.id, amount)
