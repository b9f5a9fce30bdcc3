"""In store, with two browsers: the member's phone shows the pickup QR; the staff's device
types the short code and hands over; the member's page turns to "picked up" by itself.
Then staff show a receipt QR, and the member opens it and sees the points arrive."""
import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

GOLD = "13800000002"
STAFF = "staff@example.com"
PASSWORD = "demo-pass-2026"


def _log_in(page, base, login):
    page.goto(f"{base}/login")
    page.get_by_label("Email or mobile number").fill(login)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).not_to_have_url(re.compile(r"/login"))


@pytest.fixture
def staff_page(browser, browser_context_args, live_server):
    context = browser.new_context(**browser_context_args)
    page = context.new_page()
    _log_in(page, live_server, STAFF)
    expect(page).to_have_url(f"{live_server}/counter")
    yield page
    context.close()


def test_member_shows_the_pickup_qr_staff_hand_over_and_the_page_turns_to_picked_up(
        page, staff_page, live_server, log_in, shot):
    log_in(GOLD)
    page.goto(f"{live_server}/orders")
    # The demo's points-only order (a USB-C cable, 900 points) waits at Store 12.
    page.locator("a.order-row", has_text="900 points").filter(has_not_text="¥").first.click()
    expect(page.get_by_text("USB-C charging cable × 1")).to_be_visible()
    panel = page.locator(".pickup-panel")
    expect(panel.get_by_role("heading", name="Your pickup code")).to_be_visible()
    expect(panel.locator("svg.qr")).to_be_visible()
    expect(panel).to_contain_text("Pick up at: Store 12, Xuhui")
    code = panel.locator("[data-pickup-code]").inner_text().strip()
    assert re.fullmatch(r"[0-9A-Z]+-[0-9A-Z]{6}", code)
    shot(page, "member-pickup-qr")
    page.evaluate("window.__sameDocument = true")  # gone if the page reloads

    staff_page.get_by_label("Pickup code").fill(code.lower())  # typed as it was read out
    staff_page.get_by_role("button", name="Find the order").click()
    order = staff_page.locator(".pickup-order")
    expect(order).to_contain_text("USB-C charging cable")
    expect(order).to_contain_text("Fully paid")
    shot(staff_page, "counter-order")
    staff_page.get_by_role("button", name="Hand over").click()
    expect(staff_page.locator(".handover-done")).to_contain_text("Handed over")
    shot(staff_page, "counter-handed-over")

    expect(panel.get_by_role("heading", name="Picked up")).to_be_visible(timeout=15_000)
    expect(panel).to_contain_text(re.compile(r"Picked up at Store 12, Xuhui, .+, by Store Staff\."))
    expect(page.locator(".status-line")).to_have_text("Picked up")
    assert page.evaluate("window.__sameDocument === true"), "the order page reloaded"
    shot(page, "member-picked-up")

    # A second scan of the same code is refused with where, when and by whom.
    staff_page.get_by_label("Pickup code").fill(code)
    staff_page.get_by_role("button", name="Find the order").click()
    expect(staff_page.locator("#pickup-code-error")).to_contain_text(
        re.compile(r"Already picked up at Store 12, Xuhui, .+, by Store Staff\."))


def test_member_opens_a_receipt_qr_and_sees_the_points_arrive(page, staff_page, live_server, log_in, shot):
    staff_page.get_by_label("Receipt number").fill("E2E-RECEIPT-1")
    staff_page.get_by_label("Amount paid").fill("250")
    staff_page.get_by_role("button", name="Show the receipt QR code").click()
    receipt = staff_page.locator(".receipt-qr")
    expect(receipt.locator("svg.qr")).to_be_visible()
    url = receipt.locator("[data-receipt-url]").inner_text().strip()
    # Scan it as a phone would: decode the QR drawn on screen with the vendored jsQR.
    decoded = staff_page.evaluate("""async () => {
        const svg = document.querySelector('.receipt-qr svg.qr');
        const img = new Image();
        img.src = 'data:image/svg+xml;charset=utf-8,' + encodeURIComponent(new XMLSerializer().serializeToString(svg));
        await img.decode();
        const size = 400, canvas = document.createElement('canvas');
        canvas.width = canvas.height = size;
        const ctx = canvas.getContext('2d');
        ctx.fillStyle = '#fff'; ctx.fillRect(0, 0, size, size);
        ctx.drawImage(img, 0, 0, size, size);
        const found = jsQR(ctx.getImageData(0, 0, size, size).data, size, size);
        return found && found.data;
    }""")
    assert decoded == url
    shot(staff_page, "counter-receipt-qr")

    log_in(GOLD)
    before = int(re.sub(r"\D", "", page.locator(".balance-value").inner_text()))
    page.goto(url)
    expect(page.locator(".points-arrived")).to_have_text("+300 points")  # ¥250: 250 × Gold 1.2
    expect(page.get_by_text(re.compile(r"receipt E2E-RECEIPT-1"))).to_be_visible()  # the explanation
    expect(page.locator("[data-balance]")).to_have_text(f"{before + 300:,} points")
    shot(page, "member-receipt-points")
    page.goto(url)  # a second scan credits nothing
    expect(page.get_by_text("You already collected 300 points for this receipt.")).to_be_visible()


def test_hq_creates_a_store_api_key_sees_it_once_and_revokes_it(browser, live_server, shot):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    page = context.new_page()
    try:
        _log_in(page, live_server, "hq@example.com")
        page.goto(f"{live_server}/store-admin/api-keys")
        expect(page.get_by_role("heading", name="Store API keys")).to_be_visible()
        page.get_by_label("Store").select_option(label="Store 12, Xuhui")
        page.get_by_label("Name").fill("Till 7")
        page.get_by_role("button", name="Create key").click()
        secret = page.locator("[data-new-key]").inner_text().strip()
        assert secret.startswith("pm_live_")
        shot(page, "api-key-created")
        page.goto(f"{live_server}/store-admin/api-keys")
        expect(page.locator("body")).not_to_contain_text(secret)  # shown once only
        # The key works, then stops working once revoked (after a confirmation).
        api = context.request
        headers = {"Authorization": f"Bearer {secret}"}
        assert api.get(f"{live_server}/api/v1/members?mobile=13800000002", headers=headers).status == 200
        page.once("dialog", lambda dialog: dialog.accept())
        page.get_by_role("button", name="Revoke the key Till 7").click()
        expect(page.get_by_role("row", name=re.compile("Till 7")).get_by_text(re.compile("Revoked on"))).to_be_visible()
        answer = api.get(f"{live_server}/api/v1/members?mobile=13800000002", headers=headers)
        assert answer.status == 401 and answer.json()["error"]["code"] == "revoked_api_key"
        shot(page, "api-key-revoked")
    finally:
        context.close()
