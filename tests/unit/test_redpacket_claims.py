"""Claiming red packets (issue 13): the amount lands in the wallet and is charged to a budget;
refusals (not started, ended, closed, all claimed, limit reached, not eligible, budget used up)
write nothing; `mall audit` finds the campaign consistent."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from mall.audit import run_audit
from mall.budgets.models import BudgetMonth, DiscretionaryGrant
from mall.budgets.services import set_programme_budget
from mall.engagement.models import MemberSegment
from mall.extensions import db
from mall.redpackets import campaigns as service
from mall.redpackets.audit import REDPACKET_CHECKS
from mall.redpackets.claims import (AllClaimed, BudgetUsedUp, CampaignEnded, CampaignNotStarted, LimitReached,
                                    NotEligible, claim)
from mall.redpackets.models import RedPacketClaim
from mall.wallet.models import WalletItem
from tests.factories import make_user
from tests.redpacket_world import make_campaign


@pytest.fixture
def member(app, tiers, clock):
    return make_user(clock.now())


def _writes():
    return (db.session.scalar(select(func.count()).select_from(RedPacketClaim)),
            db.session.scalar(select(func.count()).select_from(WalletItem)),
            db.session.scalar(select(func.coalesce(func.sum(BudgetMonth.used_points), 0))))


def _clean_audit():
    return [f for f in run_audit(REDPACKET_CHECKS) if f.violations] == []


def test_a_claim_puts_the_amount_in_the_wallet_and_charges_the_programme_budget(member, clock):
    now = clock.now()
    campaign = make_campaign(now)
    got = claim(campaign.id, member.id, now=now)
    item = db.session.get(WalletItem, got.wallet_item_id)
    assert (item.kind, item.value_minor, item.account_id, item.state) == ("red_packet", got.amount_minor, member.id,
                                                                          "available")
    assert item.expires_at == now + timedelta(days=30)
    assert 1 <= got.amount_minor <= 99
    assert campaign.remaining_minor == 10_000 - got.amount_minor and campaign.remaining_count == 199
    grant = db.session.scalar(select(DiscretionaryGrant))
    assert grant.points == got.amount_minor  # 100 points = ¥1 by default: 1 point per fen
    assert _clean_audit()


def test_a_store_campaign_is_charged_to_the_stores_budget_and_usable_there(member, clock, shop):
    now, shop = clock.now(), shop[0]
    campaign = make_campaign(now, store_id=shop.id, total_minor=500, min_minor=100, max_minor=100)
    got = claim(campaign.id, member.id, now=now)
    assert db.session.get(WalletItem, got.wallet_item_id).store_id == shop.id
    assert db.session.scalar(select(BudgetMonth.used_points).where(BudgetMonth.store_id == shop.id)) == 100


def test_claiming_every_packet_pays_exactly_the_total(app, tiers, clock):
    now = clock.now()
    campaign = make_campaign(now, total_minor=1_000, min_minor=10, max_minor=90, count=20)
    members = [make_user(now) for _ in range(20)]
    amounts = [claim(campaign.id, m.id, now=now).amount_minor for m in members]
    assert sum(amounts) == 1_000 and all(10 <= a <= 90 for a in amounts)
    late = make_user(now)
    with pytest.raises(AllClaimed):
        claim(campaign.id, late.id, now=now)
    assert _clean_audit()


def test_the_per_member_limit_refuses_a_further_claim_and_writes_nothing(member, clock):
    now = clock.now()
    campaign = make_campaign(now, limit=2)
    claim(campaign.id, member.id, now=now)
    claim(campaign.id, member.id, now=now)
    before = _writes()
    with pytest.raises(LimitReached):
        claim(campaign.id, member.id, now=now)
    assert _writes() == before
    assert [c.n for c in service.claims_by(campaign.id, member.id)] == [1, 2]


def test_the_claim_window_refuses_before_it_opens_and_after_it_closes(member, clock):
    now = clock.now()
    campaign = make_campaign(now, starts_in=timedelta(hours=1), lasts=timedelta(hours=2))
    with pytest.raises(CampaignNotStarted):
        claim(campaign.id, member.id, now=now)
    with pytest.raises(CampaignEnded):
        claim(campaign.id, member.id, now=now + timedelta(hours=3))
    assert claim(campaign.id, member.id, now=now + timedelta(hours=2)).amount_minor > 0
    assert _writes()[0] == 1


def test_a_closed_campaign_refuses_claims(member, clock):
    now = clock.now()
    hq = make_user(now, role="hq")
    campaign = make_campaign(now)
    service.close_campaign(campaign.id, actor_id=hq.id, now=now)
    with pytest.raises(CampaignEnded):
        claim(campaign.id, member.id, now=now)


def test_a_tier_campaign_is_for_that_tier_and_above(member, clock):
    now = clock.now()
    tiers = {t.code: t for t in service.all_tiers_for_choice()}
    gold_only = make_campaign(now, audience="tier", tier_id=tiers["gold"].id)
    silver_up = make_campaign(now, audience="tier", tier_id=tiers["silver"].id)
    with pytest.raises(NotEligible):
        claim(gold_only.id, member.id, now=now)
    assert claim(silver_up.id, member.id, now=now).amount_minor > 0
    assert [c.id for c in service.open_for_member(member.id, now)] == []  # claimed its one; gold not for them


def test_a_segment_campaign_is_for_members_in_that_segment(member, clock):
    now = clock.now()
    campaign = make_campaign(now, audience="segment", segment="loyal")
    with pytest.raises(NotEligible):
        claim(campaign.id, member.id, now=now)
    db.session.add(MemberSegment(member_id=member.id, segment="loyal", purchases=6, spend_minor=300_000,
                                 computed_at=now))
    db.session.flush()
    assert claim(campaign.id, member.id, now=now).amount_minor > 0


def test_a_link_campaign_is_not_listed_but_anyone_with_the_link_may_claim(member, clock):
    now = clock.now()
    listed = make_campaign(now)
    link_only = make_campaign(now, audience="link")
    assert [c.id for c in service.open_for_member(member.id, now)] == [listed.id]
    assert service.by_token(link_only.share_token).id == link_only.id
    assert claim(link_only.id, member.id, now=now).amount_minor > 0


def test_staff_accounts_cannot_claim(app, tiers, clock):
    now = clock.now()
    staff = make_user(now, role="store_staff")
    with pytest.raises(NotEligible):
        claim(make_campaign(now).id, staff.id, now=now)


def test_a_used_up_budget_refuses_the_claim_and_writes_nothing(member, clock):
    now = clock.now()
    hq = make_user(now, role="hq")
    set_programme_budget("campaign", "red-packets", "Red packets", 50, "hold", actor_id=hq.id, now=now)
    campaign = make_campaign(now, total_minor=1_000, min_minor=100, max_minor=100)
    before = _writes()
    with pytest.raises(BudgetUsedUp):
        claim(campaign.id, member.id, now=now)
    assert _writes() == before
    db.session.refresh(campaign)
    assert (campaign.remaining_minor, campaign.remaining_count) == (1_000, 10)


def test_a_campaign_whose_total_cannot_be_cut_into_the_range_is_refused(app, clock):
    with pytest.raises(service.CampaignNotPayable):
        make_campaign(clock.now(), total_minor=10, min_minor=3, max_minor=3)


def test_share_tokens_are_unguessable_and_a_wrong_one_finds_nothing(app, clock):
    campaign = make_campaign(clock.now())
    assert len(campaign.share_token) >= 32
    with pytest.raises(service.NotFound):
        service.by_token(campaign.share_token[:-1] + ("A" if campaign.share_token[-1] != "A" else "B"))
