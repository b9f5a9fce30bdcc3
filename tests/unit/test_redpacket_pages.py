"""Red-packet pages (issue 13): the share link shows the campaign to anyone, sends logged-out
visitors to log in and back, opens a packet for a member (HTMX fragment or whole page), says
why not in the member's language, and lets HQ create and close campaigns with a share link and QR."""
from sqlalchemy import func, select

from mall.extensions import db
from mall.redpackets.models import RedPacketCampaign, RedPacketClaim
from tests.factories import make_user
from tests.redpacket_world import make_campaign

HX = {"HX-Request": "true"}


def _campaign(clock, **kwargs):
    campaign = make_campaign(clock.now(), **kwargs)
    db.session.commit()
    return campaign


def test_a_logged_out_visitor_sees_the_campaign_and_is_sent_to_log_in_and_back(client, tiers, clock):
    campaign = _campaign(clock)
    page = client.get(f"/red-packets/{campaign.share_token}")
    assert page.status_code == 200
    assert "Spring red packets" in page.text and "Log in to open" in page.text
    response = client.post(f"/red-packets/{campaign.share_token}/open")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"] and campaign.share_token in response.headers["Location"]


def test_a_member_opens_a_packet_and_sees_what_they_got_with_a_link_to_the_wallet(client, auth, tiers, clock):
    campaign = _campaign(clock, total_minor=500, min_minor=100, max_minor=100)
    make_user(clock.now(), login="m@example.com")
    db.session.commit()
    auth.login("m@example.com")
    assert ">Open<" in client.get(f"/red-packets/{campaign.share_token}").text
    fragment = client.post(f"/red-packets/{campaign.share_token}/open", headers=HX)
    assert fragment.status_code == 200
    assert "You got ¥1!" in fragment.text and "<html" not in fragment.text
    again = client.post(f"/red-packets/{campaign.share_token}/open", headers=HX)
    assert again.status_code == 409 and "already claimed as many" in again.text
    assert db.session.scalar(select(func.count()).select_from(RedPacketClaim)) == 1


def test_refusals_are_said_in_chinese_for_a_chinese_reader(client, auth, tiers, clock):
    from datetime import timedelta
    campaign = _campaign(clock, starts_in=timedelta(days=1))
    make_user(clock.now(), login="zh@example.com")
    db.session.commit()
    auth.login("zh@example.com")
    client.post("/locale", data={"locale": "zh_Hans", "next": "/"})
    response = client.post(f"/red-packets/{campaign.share_token}/open", headers=HX)
    assert response.status_code == 409 and "红包活动还没有开始" in response.text


def test_the_member_list_shows_open_campaigns_for_them_but_not_link_only_ones(client, auth, tiers, clock):
    _campaign(clock, name="Listed")
    _campaign(clock, name="Secret", audience="link")
    make_user(clock.now(), login="m@example.com")
    db.session.commit()
    auth.login("m@example.com")
    page = client.get("/red-packets").text
    assert "Listed" in page and "Secret" not in page


def test_hq_creates_a_campaign_and_gets_its_share_link_and_qr(client, auth, tiers, clock):
    make_user(clock.now(), role="hq", login="hq@example.com")
    db.session.commit()
    auth.login("hq@example.com")
    form = {"name": "Lunar new year", "name_zh": "新春红包", "store_id": "", "total": "100.00", "mode": "random",
            "min_amount": "0.50", "max_amount": "5.00", "count": "", "audience": "everyone", "tier_id": "",
            "segment": "", "limit_per_member": "1", "starts_at": "2026-06-01T08:00", "ends_at": "2026-06-08T08:00",
            "valid_until": "", "valid_days": "14"}
    response = client.post("/hq/red-packets", data=form)
    assert response.status_code == 302, response.text
    campaign = db.session.scalar(select(RedPacketCampaign))
    assert (campaign.total_minor, campaign.min_minor, campaign.max_minor, campaign.packet_count) == (10_000, 50, 500, 36)
    detail = client.get(response.headers["Location"]).text
    assert f"/red-packets/{campaign.share_token}" in detail and "<svg" in detail
    client.post(f"/hq/red-packets/{campaign.id}/close")
    db.session.expire_all()
    assert db.session.get(RedPacketCampaign, campaign.id).status == "closed"


def test_hq_is_told_when_the_total_cannot_be_shared_out(client, auth, tiers, clock):
    make_user(clock.now(), role="hq", login="hq@example.com")
    db.session.commit()
    auth.login("hq@example.com")
    form = {"name": "Odd", "total": "0.10", "mode": "fixed", "min_amount": "0.03", "audience": "everyone",
            "limit_per_member": "1", "starts_at": "2026-06-01T08:00", "ends_at": "2026-06-08T08:00",
            "valid_days": "14", "store_id": "", "tier_id": "", "segment": ""}
    response = client.post("/hq/red-packets", data=form)
    assert response.status_code == 422 and "can’t be shared out" in response.text.replace("&#39;", "’").replace("'", "’")
    assert db.session.scalar(select(func.count()).select_from(RedPacketCampaign)) == 0
