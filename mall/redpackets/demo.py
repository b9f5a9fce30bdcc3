"""Demo red packets, loaded by `flask mall demo` after the other demo data. Idempotent.

An HQ campaign anyone with the share link may open (its token is fixed so the README can
print the link; real campaigns get a random one), and a store campaign for every member
(listed on their home page). A few demo members have claimed, so HQ's dashboard shows
red-packet figures on the first run."""
from datetime import datetime, timedelta

from sqlalchemy import select

from ..accounts import services as accounts
from ..extensions import db
from ..instore.models import Store
from .campaigns import NewCampaign, create_campaign
from .claims import claim
from .models import RedPacketCampaign

DEMO_TOKEN = "demo-red-packets-try-the-share-link-2026"
SHARE_PATH = f"/red-packets/{DEMO_TOKEN}"
CLAIMERS = ("silver@example.com", "13800000002", "diamond@example.com")


def load_redpackets_demo(now: datetime) -> str:
    """Returns the share link's path."""
    if db.session.scalar(select(RedPacketCampaign.id).where(RedPacketCampaign.share_token == DEMO_TOKEN)):
        return SHARE_PATH
    hq = accounts.find_by_identifier("hq@example.com")
    start = now - timedelta(days=3)
    lunar = create_campaign(NewCampaign(
        name="Lunar New Year red packets", name_zh="新春红包", total_minor=10_000, min_minor=50, max_minor=800,
        starts_at=start, ends_at=now + timedelta(days=14), audience="link", limit_per_member=1, valid_days=30),
        actor_id=hq.id if hq else None, now=start)
    lunar.share_token = DEMO_TOKEN
    store = db.session.scalar(select(Store).order_by(Store.id))
    weekend = create_campaign(NewCampaign(
        name="Weekend treat at the store", name_zh="门店周末红包", total_minor=2_000, min_minor=200,
        max_minor=200, starts_at=start, ends_at=now + timedelta(days=7), audience="everyone", limit_per_member=2,
        valid_until=now + timedelta(days=30), store_id=store.id if store else None),
        actor_id=hq.id if hq else None, now=start)
    db.session.flush()
    for n, login in enumerate(CLAIMERS):
        member = accounts.find_by_identifier(login)
        if member is None or member.is_frozen:
            continue
        claim(lunar.id, member.id, now=start + timedelta(hours=n + 1))
        claim(weekend.id, member.id, now=start + timedelta(hours=n + 2))
    return SHARE_PATH
