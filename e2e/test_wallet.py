"""My wallet on a phone (issue 13): redeem points for a coupon, find it in the wallet, open
it and see its QR code and short code."""
import re

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

DIAMOND = "diamond@example.com"


def test_member_redeems_points_for_a_coupon_and_sees_its_qr_in_the_wallet(page: Page, log_in, live_server, shot):
    log_in(DIAMOND)
    page.goto(f"{live_server}/catalog?category=vouchers")
    page.get_by_role("link", name=re.compile("Spend ¥100, save ¥10 coupon")).first.click()
    expect(page.get_by_role("heading", name=re.compile("^Spend ¥100, save ¥10 coupon"))).to_be_visible()
    page.get_by_role("button", name="Buy now").click()
    expect(page.get_by_role("heading", name=re.compile(r"^Order PM"))).to_be_visible()
    shot(page, "coupon-order")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Wallet").click()
    expect(page.get_by_role("heading", name="My wallet")).to_be_visible()
    coupon = page.get_by_role("link", name=re.compile("¥10 off · Spend ¥100, save ¥10"))
    expect(coupon.first).to_be_visible()
    shot(page, "wallet")

    coupon.first.click()
    expect(page.get_by_role("heading", name="¥10 off")).to_be_visible()
    qr = page.get_by_role("img", name="QR code of this coupon, for the cashier to scan")
    expect(qr).to_be_visible()
    expect(qr.locator("svg")).to_be_visible()
    expect(page.locator("[data-short-code]")).to_have_text(re.compile(r"^[A-Z2-9]{8}$"))
    expect(page.get_by_text("Spend ¥100, save ¥10.")).to_be_visible()
    expect(page.get_by_text(re.compile("^Use by "))).to_be_visible()
    # Phone-first: the QR fits the screen without sideways scrolling.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(page, "coupon-qr")


def test_the_wallet_empty_state_on_the_used_tab(page: Page, log_in, live_server):
    log_in("silver@example.com")
    page.goto(f"{live_server}/wallet")
    # Two HQ coupons, the demo's red packets, and whatever the games e2e won before this file.
    expect(page.get_by_role("link", name=re.compile(r"Available \((\d+)\)"))).to_be_visible()
    page.get_by_role("link", name=re.compile(r"Used \(0\)")).click()
    expect(page.get_by_text("You have not used a coupon yet.")).to_be_visible()
