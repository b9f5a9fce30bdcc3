"""A red packet on a phone: a logged-out visitor opens the demo's share link, sees the
campaign, is sent to log in and comes back to it, taps Open, reads "You got ¥x.xx!" without
a page reload, and finds the packet behind the wallet link. Tapping again is refused politely."""
import re

import pytest
from playwright.sync_api import Page, expect

from mall.redpackets.demo import SHARE_PATH

pytestmark = pytest.mark.e2e


def test_claim_a_red_packet_from_a_share_link_and_see_it_in_the_wallet(page: Page, live_server, shot):
    page.goto(f"{live_server}{SHARE_PATH}")
    expect(page.get_by_role("heading", name="Lunar New Year red packets")).to_be_visible()
    shot(page, "campaign-logged-out")

    page.get_by_role("link", name="Log in to open").click()
    page.get_by_label("Email or mobile number").fill("new@example.com")
    page.get_by_label("Password").fill("demo-pass-2026")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{live_server}{SHARE_PATH}")

    page.evaluate("window.__samePage = true")
    page.get_by_role("button", name="Open").click()
    result = page.locator("#rp-open").get_by_role("status")
    expect(result).to_have_text(re.compile(r"You got ¥\d+(\.\d\d)?!"))
    amount = re.search(r"¥[\d.]+", result.inner_text()).group(0)
    assert page.evaluate("window.__samePage === true"), "opening the packet reloaded the page"
    shot(page, "opened")

    page.get_by_role("link", name="See it in my wallet").click()
    expect(page).to_have_url(f"{live_server}/wallet")
    expect(page.get_by_role("heading", name="My wallet", level=1)).to_be_visible()
    expect(page.get_by_text("Lunar New Year red packets").first).to_be_visible()
    expect(page.get_by_text(amount).first).to_be_visible()
    shot(page, "wallet")

    # The limit is one per member: a second tap is refused, in words.
    page.goto(f"{live_server}{SHARE_PATH}")
    expect(page.get_by_text("Your red packets from this campaign")).to_be_visible()
    expect(page.get_by_role("button", name="Open")).to_have_count(0)
    expect(page.locator("#rp-open").get_by_role("status")).to_have_text(re.compile("already claimed as many"))
