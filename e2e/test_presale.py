"""Presale end to end: the merchandiser (desktop) sets up a presale item with two ranked
substitutes; two members (phones) pre-order; one unit arrives; the first member's order is
ready, the second gets a shortfall offer, takes a cheaper substitute and sees the surplus
points come back on their statement."""
import re
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

DESKTOP = {"width": 1366, "height": 900}
FIRST, SECOND = "diamond@example.com", "13800000002"
PASSWORD = "demo-pass-2026"


def _log_in(page: Page, live_server: str, login: str) -> None:
    page.goto(f"{live_server}/login")
    page.get_by_label("Email or mobile number").fill(login)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).not_to_have_url(re.compile(r"/login"))


def _local(at) -> str:
    """A datetime-local value in the console's time zone (Asia/Shanghai, UTC+8)."""
    return (at + timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M")


@pytest.fixture
def desk(browser, live_server):
    context = browser.new_context(viewport=DESKTOP, locale="en-US")
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def phones(browser, browser_context_args):
    contexts = [browser.new_context(**browser_context_args) for _ in range(2)]
    yield [c.new_page() for c in contexts]
    for c in contexts:
        c.close()


def _balance(page: Page, live_server: str) -> int:
    page.goto(f"{live_server}/points/statement")
    text = page.locator(".line-after").first.inner_text()
    return int(re.sub(r"\D", "", text))


def test_presale_from_setup_to_a_settled_substitute(desk: Page, phones, live_server, demo_now, shot):
    # --- the merchandiser, at a desk: a new item, two substitutes, a presale -----------------
    _log_in(desk, live_server, "merch@example.com")
    desk.goto(f"{live_server}/console/items/new")
    desk.get_by_label("SKU").fill("PRE-LANTERN")
    desk.get_by_label("Name", exact=True).fill("Festival lantern")
    desk.get_by_label("Category").select_option(label="Home")
    desk.get_by_label("Points price (list)").fill("800")
    desk.get_by_role("button", name="Save").click()
    expect(desk.get_by_text("Created Festival lantern.")).to_be_visible()
    item_url = desk.url
    item_id = int(re.search(r"/console/items/(\d+)", item_url).group(1))
    desk.get_by_role("button", name="Publish").click()
    expect(desk.get_by_text("Published: members can see it.")).to_be_visible()

    desk.get_by_role("link", name="Substitutes").click()
    desk.get_by_label("First choice").select_option(label="VOU-03 · Free coffee coupon")
    desk.get_by_label("Second choice").select_option(label="TRA-02 · Neck pillow")
    desk.get_by_role("button", name="Save").click()
    expect(desk.get_by_text("Substitutes saved.")).to_be_visible()
    shot(desk, "console-substitutes")

    desk.goto(item_url)
    desk.get_by_role("link", name="Presale").click()
    desk.get_by_label("Pre-orders open").fill(_local(demo_now - timedelta(hours=1)))
    desk.get_by_label("Pre-orders close").fill(_local(demo_now + timedelta(days=7)))
    desk.get_by_label("Most units to pre-sell").fill("0")
    # Today in the shop's zone (UTC+8): from 16:00 UTC on, the UTC date is the shop's yesterday,
    # before the window opens, and the console rightly refuses it.
    desk.get_by_label("Expected ship date").fill((demo_now + timedelta(hours=8)).date().isoformat())
    desk.get_by_role("button", name="Save").click()
    cap = desk.get_by_label("Most units to pre-sell")
    expect(cap).to_have_attribute("aria-invalid", "true")  # refused next to the field
    expect(desk.locator("#cap-error")).to_have_text("The cap must be a whole number above zero.")
    cap.fill("5")
    desk.get_by_role("button", name="Save").click()
    expect(desk.get_by_text("Presale saved.")).to_be_visible()
    expect(desk.get_by_text("No pre-orders yet.")).to_be_visible()
    shot(desk, "console-presale")

    # --- two members pre-order on their phones, in turn ---------------------------------------
    first, second = phones
    orders, balances = [], []
    for phone, login in ((first, FIRST), (second, SECOND)):
        _log_in(phone, live_server, login)
        balances.append(_balance(phone, live_server))
        phone.goto(f"{live_server}/catalog/{item_id}")
        expect(phone.get_by_role("heading", name="Pre-order")).to_be_visible()
        phone.get_by_role("button", name="Pre-order now").click()
        expect(phone.get_by_role("heading", name=re.compile(r"^Order PM"))).to_be_visible()
        orders.append(phone.url)
    expect(first.get_by_text("You are number 1 in the queue.")).to_be_visible()
    expect(second.get_by_text("You are number 2 in the queue.")).to_be_visible()
    shot(second, "queued")

    # --- one unit arrives ------------------------------------------------------------------------
    desk.goto(f"{live_server}/console/items/{item_id}/stock")
    desk.get_by_label("Quantity received").fill("1")
    desk.get_by_label("Delivery reference").fill("PO-LANTERN-1")
    desk.get_by_role("button", name="Receive").click()
    expect(desk.get_by_text("Pre-orders: 1 served, 1 offered a substitute, 0 refunded.")).to_be_visible()
    expect(desk.get_by_role("cell", name="PO-LANTERN-1")).to_be_visible()
    shot(desk, "console-received")

    # --- the first member's order is ready -------------------------------------------------------
    first.goto(orders[0])
    expect(first.locator(".status-line")).to_have_text("Ready for pickup")
    expect(first.locator(".timeline")).to_contain_text("Ready for pickup")
    shot(first, "first-ready")

    # --- the second gets an offer, takes the cheaper substitute, and sees the points settle -----
    second.goto(orders[1])
    expect(second.get_by_text("Not enough stock arrived for your pre-order.")).to_be_visible()
    coupon = second.locator("form.offer").filter(has_text="Free coffee coupon")
    expect(coupon).to_contain_text("200 points back")
    expect(second.locator("form.offer").filter(has_text="Neck pillow")).to_be_visible()
    shot(second, "offer")
    coupon.get_by_role("button", name="Take Free coffee coupon instead").click()
    expect(second.get_by_text("Done: your order is now for the substitute, and your points are settled.")).to_be_visible()
    expect(second.locator(".status-line")).to_have_text("Ready for pickup")
    expect(second.locator(".lines")).to_contain_text("Free coffee coupon")
    expect(second.locator(".timeline")).to_contain_text("Switched to a substitute; points settled")
    shot(second, "substituted")

    second.goto(f"{live_server}/points/statement")
    refund = second.locator("li.line").first
    expect(refund).to_contain_text("Returned to you for order")
    expect(refund.locator(".line-points")).to_contain_text("+200")
    assert _balance(second, live_server) == balances[1] - 600  # 800 taken, 200 back
    shot(second, "statement")


def test_a_sold_out_item_offers_its_substitutes_and_one_tap_switches(page: Page, log_in, live_server, shot):
    log_in(FIRST)
    page.goto(f"{live_server}/catalog")
    page.get_by_role("link", name=re.compile("Ceramic rice bowls")).first.click()
    expect(page.get_by_text("Sold out").first).to_be_visible()
    offers = page.get_by_role("region", name="You might like instead")
    expect(offers).to_contain_text("Stainless steel tumbler")
    expect(offers).to_contain_text("Organic eggs (30)")
    shot(page, "offers")
    offers.get_by_role("button", name="Take Organic eggs (30) instead").click()
    expect(page.get_by_role("heading", name=re.compile(r"^Order PM"))).to_be_visible()
    expect(page.locator(".status-line")).to_have_text("Ready for pickup")
    expect(page.locator(".lines")).to_contain_text("Organic eggs (30)")


def test_the_demo_hairy_crab_is_open_for_pre_orders(page: Page, log_in, live_server, shot):
    log_in(FIRST)
    page.goto(f"{live_server}/catalog?category=fresh")
    page.get_by_role("link", name=re.compile("Hairy crab gift box")).first.click()
    panel = page.get_by_role("region", name="Pre-order")
    expect(panel).to_contain_text("places left")
    expect(panel.get_by_role("button", name="Pre-order now")).to_be_visible()
    shot(page, "presale-panel")


def test_the_console_pages_fit_a_small_screen_too(browser, live_server, shot):
    context = browser.new_context(viewport={"width": 360, "height": 740}, locale="en-US")
    page = context.new_page()
    try:
        _log_in(page, live_server, "merch@example.com")
        for path, name in (("/console", "list"), ("/console/categories", "categories"), ("/console/import", "import")):
            page.goto(live_server + path)
            shot(page, name)
        page.goto(f"{live_server}/console?q=KIT-02")
        page.get_by_role("link", name="Ceramic rice bowls (4)").click()
        expect(page).to_have_url(re.compile(r"/console/items/\d+$"))
        item_url = page.url
        for link, name in (("Stock", "stock"), ("Substitutes", "substitutes"), ("Presale", "presale"),
                           ("History", "history")):
            page.goto(item_url)
            page.get_by_role("navigation", name="Item").get_by_role("link", name=link).click()
            expect(page).to_have_url(re.compile(f"/{name}$"))
            shot(page, name)
        page.goto(item_url)
        shot(page, "item-form")
    finally:
        context.close()
