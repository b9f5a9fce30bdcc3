"""Red-packet campaigns for the tests (issue 13)."""
from datetime import timedelta

from mall.redpackets.campaigns import NewCampaign, create_campaign


def make_campaign(now, *, total_minor=10_000, min_minor=1, max_minor=99, count=None, audience="everyone",
                  tier_id=None, segment=None, limit=1, starts_in=timedelta(0), lasts=timedelta(days=7),
                  valid_days=30, valid_until=None, store_id=None, name="Spring red packets", actor_id=None):
    spec = NewCampaign(name=name, name_zh="春节红包", total_minor=total_minor, min_minor=min_minor,
                       max_minor=max_minor, count=count, audience=audience, tier_id=tier_id, segment=segment,
                       limit_per_member=limit, starts_at=now + starts_in, ends_at=now + starts_in + lasts,
                       valid_days=None if valid_until else valid_days, valid_until=valid_until, store_id=store_id)
    return create_campaign(spec, actor_id=actor_id, now=now)
