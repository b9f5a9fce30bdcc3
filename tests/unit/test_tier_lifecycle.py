"""The tier lifecycle across a year, on a fake clock: an upgrade at once (with a banner and a
message), a retain target during the period, a review by the jobs at the period's end
(renewal or downgrade, never earlier), and the tier history."""
from datetime import datetime, timezone

from mall.extensions import db
from mall.notifications.models import Notification
from mall.engagement.earning import earn_for_purchase
from mall.points.ledger import spend_points
from mall.points.tiers import dismiss_banner, review_tiers, tier_history, tier_status, unseen_upgrade
from tests.factories import make_user

JAN_15 = datetime(2026, 1, 15, 2, 0, tzinfo=timezone.utc)


def _buy(member, yuan, clock, key):
    return earn_for_purchase(member.id, yuan * 100, minor_per_point=100, source="pos", key=key, now=clock.now())


def _monthly_jobs(clock, months):
    """Run the review on the 1st of each month, as `mall jobs` would (it runs every minute)."""
    for _ in range(months):
        at = clock.now()
        clock.set(at.replace(year=at.year + (at.month == 12), month=at.month % 12 + 1, day=1))
        review_tiers(clock.now())
        db.session.commit()


def _history(member):
    return [(c.kind, c.from_tier.code if c.from_tier else None, c.to_tier.code) for c in reversed(tier_history(member.id))]


def test_a_year_in_gold_that_is_not_kept(tiers, clock):
    clock.set(JAN_15)
    member = make_user(clock.now())
    _buy(member, 5_000, clock, "jan")  # reaches Gold at once
    status = tier_status(member.id, clock.now())
    assert status.tier.code == "gold"
    assert status.held_until == datetime(2027, 1, 15, 2, 0, tzinfo=timezone.utc)
    banner = unseen_upgrade(member.id, clock.now())
    assert banner is not None and banner.to_tier.code == "gold"
    (message,) = db.session.query(Notification).filter_by(member_id=member.id, kind="tier_change").all()
    assert message.params["kind"] == "upgrade" and message.params["to"] == "gold"
    dismiss_banner(member.id, banner.id, clock.now())
    assert unseen_upgrade(member.id, clock.now()) is None

    # Redeeming points never lowers the tier.
    spend_points(member.id, 4_000, reason="redeem", source="test", key="s1", now=clock.now())

    _monthly_jobs(clock, 5)  # 1 June 2026
    clock.set(datetime(2026, 6, 10, 2, 0, tzinfo=timezone.utc))
    _buy(member, 4_200, clock, "june")
    status = tier_status(member.id, clock.now())
    # January's ¥5,000 will have left the 12-month window when the period ends; June's ¥4,200 stays.
    assert (status.tier.code, status.retain_counted_minor, status.retain_short_minor) == ("gold", 420_000, 80_000)
    assert status.retain_progress_pct == 84

    _monthly_jobs(clock, 7)  # 1 January 2027: still inside the period
    assert tier_status(member.id, clock.now()).tier.code == "gold"
    assert _history(member) == [("upgrade", "silver", "gold")]

    clock.set(datetime(2027, 1, 15, 2, 0, tzinfo=timezone.utc))  # the period ends
    counts = review_tiers(clock.now())
    db.session.commit()
    assert counts["downgrade"] == 1
    assert tier_status(member.id, clock.now()).tier.code == "silver"
    assert _history(member) == [("upgrade", "silver", "gold"), ("downgrade", "gold", "silver")]
    kinds = [n.params["kind"] for n in db.session.query(Notification).filter_by(member_id=member.id)
             .order_by(Notification.id)]
    assert kinds == ["upgrade", "downgrade"]

    # A second run changes nothing and sends nothing.
    assert review_tiers(clock.now()) == {"upgrade": 0, "renewal": 0, "downgrade": 0}
    assert db.session.query(Notification).filter_by(member_id=member.id).count() == 2


def test_spending_to_the_retain_target_keeps_the_tier_for_another_period(tiers, clock):
    clock.set(JAN_15)
    member = make_user(clock.now())
    _buy(member, 5_000, clock, "jan")
    clock.set(datetime(2026, 6, 10, 2, 0, tzinfo=timezone.utc))
    _buy(member, 4_200, clock, "june")
    clock.set(datetime(2026, 12, 20, 2, 0, tzinfo=timezone.utc))
    _buy(member, 800, clock, "december")
    assert tier_status(member.id, clock.now()).retain_short_minor == 0

    clock.set(datetime(2027, 1, 16, 0, 0, tzinfo=timezone.utc))
    assert review_tiers(clock.now())["renewal"] == 1
    status = tier_status(member.id, clock.now())
    assert status.tier.code == "gold"
    assert status.held_until == datetime(2028, 1, 15, 2, 0, tzinfo=timezone.utc)
    assert _history(member) == [("upgrade", "silver", "gold"), ("renewal", "gold", "gold")]


def test_an_upgrade_mid_period_is_immediate_and_starts_a_new_period(tiers, clock):
    clock.set(JAN_15)
    member = make_user(clock.now())
    _buy(member, 5_000, clock, "jan")
    clock.set(datetime(2026, 8, 1, 2, 0, tzinfo=timezone.utc))
    entry = _buy(member, 15_000, clock, "aug")
    assert entry.detail["tier"] == "gold"  # earned at the tier held before this purchase
    status = tier_status(member.id, clock.now())
    assert status.tier.code == "diamond"
    assert status.held_until == datetime(2027, 8, 1, 2, 0, tzinfo=timezone.utc)
    assert unseen_upgrade(member.id, clock.now()).to_tier.code == "diamond"
    assert _history(member) == [("upgrade", "silver", "gold"), ("upgrade", "gold", "diamond")]


def test_the_jobs_upgrade_spend_credited_outside_earn_for_purchase(tiers, clock):
    from datetime import timedelta

    from mall.points.ledger import credit_points
    member = make_user(clock.now())
    credit_points(member.id, 6_000, reason="purchase", source="import", key="legacy-1", spend_minor=600_000,
                  expires_at=clock.now() + timedelta(days=365), now=clock.now())
    assert _history(member) == []
    clock.advance(minutes=1)
    assert review_tiers(clock.now())["upgrade"] == 1
    assert _history(member) == [("upgrade", "silver", "gold")]
    assert unseen_upgrade(member.id, clock.now()).to_tier.code == "gold"
