"""Red-packet claims on real PostgreSQL with real threads (issue 13): 200 members at once on a
random campaign of ¥100 never take more than ¥100, and nobody claims twice; one member
claiming from many threads at once gets exactly their limit."""
import time
from collections import Counter

from sqlalchemy import func, select

from mall.audit import run_audit
from mall.extensions import db
from mall.hq import analytics
from mall.hq.views import dashboard_labels
from mall.hq.wallet_costs import wallet_costs
from mall.redpackets import claims
from mall.redpackets.models import RedPacketCampaign, RedPacketClaim
from mall.wallet.models import WalletItem
from tests.concurrency import race
from tests.factories import make_tiers, make_user
from tests.redpacket_world import make_campaign

REFUSALS = (claims.AllClaimed, claims.LimitReached, claims.BudgetUsedUp)


def _campaign(clock, members, **kwargs):
    make_tiers()
    campaign = make_campaign(clock.now(), **kwargs)
    ids = [make_user(clock.now()).id for _ in range(members)]
    db.session.commit()
    return campaign.id, ids


def _claimed(campaign_id):
    db.session.expire_all()
    rows = db.session.execute(select(RedPacketClaim.account_id, RedPacketClaim.amount_minor)
                              .where(RedPacketClaim.campaign_id == campaign_id)).all()
    return rows, db.session.get(RedPacketCampaign, campaign_id)


def _clean_audit():
    return [(f.check, f.violations) for f in run_audit() if f.violations]


def test_two_hundred_concurrent_claims_never_exceed_a_hundred_yuan_nor_one_per_member(pg_app, clock):
    # ¥100 in packets of ¥0.01..¥0.99: about 200 packets, so the race empties the campaign.
    campaign_id, members = _campaign(clock, 200, total_minor=10_000, min_minor=1, max_minor=99, limit=1)
    started = time.monotonic()
    outcomes = race(pg_app, 200, lambda i: claims.claim(campaign_id, members[i], now=clock.now()).amount_minor,
                    refusals=REFUSALS, returns=True)
    print(f"200 concurrent claims: {time.monotonic() - started:.2f} s")
    rows, campaign = _claimed(campaign_id)
    unexpected = [o for o in outcomes if not isinstance(o, int) and o not in ("AllClaimed",)]
    assert not unexpected, unexpected
    total = sum(amount for _, amount in rows)
    assert total <= 10_000
    assert total + campaign.remaining_minor == 10_000
    assert len(rows) + campaign.remaining_count == campaign.packet_count
    assert max(Counter(account for account, _ in rows).values()) == 1  # nobody claimed twice
    assert sorted(o for o in outcomes if isinstance(o, int)) == sorted(amount for _, amount in rows)
    assert all(1 <= amount <= 99 for _, amount in rows)
    if campaign.packet_count <= 200:
        assert total == 10_000 and campaign.remaining_count == 0
    wallet = db.session.scalar(select(func.coalesce(func.sum(WalletItem.value_minor), 0))
                               .where(WalletItem.kind == "red_packet"))
    assert wallet == total
    assert _clean_audit() == []


def test_one_member_claiming_from_twenty_threads_at_once_gets_exactly_their_limit(pg_app, clock):
    campaign_id, members = _campaign(clock, 1, total_minor=10_000, min_minor=1, max_minor=99, limit=3)
    outcomes = race(pg_app, 20, lambda i: claims.claim(campaign_id, members[0], now=clock.now()).amount_minor,
                    refusals=REFUSALS, returns=True)
    rows, campaign = _claimed(campaign_id)
    assert len(rows) == 3
    assert Counter(o if not isinstance(o, int) else "ok" for o in outcomes) == {"ok": 3, "LimitReached": 17}
    assert sum(amount for _, amount in rows) + campaign.remaining_minor == 10_000
    assert _clean_audit() == []


def test_a_campaign_of_a_million_packets_fits_the_checks_without_overflow(pg_app, clock):
    # count × max is beyond PostgreSQL's INTEGER: the CHECKs compute in BIGINT.
    make_tiers()
    campaign = make_campaign(clock.now(), total_minor=1_000_000_000, min_minor=1, max_minor=1_000_000_000,
                             count=1_000_000)
    db.session.commit()
    member = make_user(clock.now())
    got = claims.claim(campaign.id, member.id, now=clock.now())
    db.session.commit()
    assert 1 <= got.amount_minor <= 2_000  # the double-mean cap: 2 × ¥10 average


def test_the_dashboards_red_packet_figures_on_postgresql(pg_app, clock):
    campaign_id, members = _campaign(clock, 3, total_minor=900, min_minor=300, max_minor=300, limit=1)
    for m in members[:2]:
        claims.claim(campaign_id, m, now=clock.now())
    db.session.commit()
    with pg_app.test_request_context():
        costs = wallet_costs(analytics.make_filters(clock.now(), period="30d"), clock.now(), dashboard_labels())
    assert (costs.issued_minor, costs.claimed_minor, costs.claimed_count) == (600, 600, 2)
    assert (costs.outstanding_minor, costs.unclaimed_budget_minor) == (600, 300)
    assert costs.charts["wallet_campaign"].rows == [["Spring red packets", 600, 0, 0]]
    assert len(costs.charts["wallet_trend"].rows) == 1
