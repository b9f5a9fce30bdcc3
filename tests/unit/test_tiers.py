from datetime import timedelta

from mall.extensions import db
from mall.engagement.earning import earn_for_purchase, purchase_points
from mall.points.ledger import spend_points
from mall.points.tiers import add_months, tier_status
from tests.factories import make_user


def _buy(member, spend_minor, now, key):
    return earn_for_purchase(member.id, spend_minor, minor_per_point=100, source="pos", key=key, now=now)


def test_tier_follows_qualifying_spend_in_the_rolling_12_months(tiers, clock):
    member = make_user(clock.now())
    _buy(member, 300_000, clock.now(), "a")
    assert tier_status(member.id, clock.now()).tier.code == "silver"
    _buy(member, 200_000, clock.now(), "b")
    status = tier_status(member.id, clock.now())
    assert status.tier.code == "gold"
    assert status.next_tier.code == "diamond"
    assert status.to_next_minor == 1_500_000
    assert status.progress_pct == 25
    clock.advance(days=366)
    assert tier_status(member.id, clock.now()).tier.code == "silver"


def test_redeeming_points_does_not_lower_the_tier(tiers, clock):
    member = make_user(clock.now())
    _buy(member, 600_000, clock.now(), "a")
    spend_points(member.id, 6000, reason="redeem", source="test", key="s", now=clock.now())
    assert tier_status(member.id, clock.now()).tier.code == "gold"


def test_purchase_points_use_the_tier_multiplier_and_never_round_up(tiers, clock):
    assert purchase_points(19_999, 100, 120) == (199, 238)
    member = make_user(clock.now())
    _buy(member, 500_000, clock.now(), "a")          # reaches Gold; earns at Silver
    entry = _buy(member, 20_000, clock.now(), "b")   # now earns at Gold x1.2
    assert entry.points == 240
    assert entry.detail["multiplier_pct"] == 120
    db.session.commit()


def test_points_validity_follows_the_tier(tiers, clock):
    member = make_user(clock.now())
    _buy(member, 2_000_000, clock.now(), "a")  # earned at Silver: 12 months
    diamond = _buy(member, 10_000, clock.now(), "b")
    from mall.points.models import PointLot
    lot = db.session.query(PointLot).filter_by(entry_id=diamond.id).one()
    assert lot.expires_at == add_months(clock.now(), 24)


def test_add_months_clamps_to_the_end_of_a_short_month(clock):
    from datetime import datetime, timezone
    assert add_months(datetime(2026, 1, 31, tzinfo=timezone.utc), 1).day == 28
    assert add_months(datetime(2026, 11, 30, tzinfo=timezone.utc), 3).month == 2


def test_spend_too_small_for_a_point_earns_nothing(tiers, clock):
    member = make_user(clock.now())
    assert _buy(member, 99, clock.now(), "tiny") is None
    assert tier_status(member.id, clock.now() + timedelta(seconds=1)).qualifying_minor == 0
