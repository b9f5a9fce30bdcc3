"""HQ at desktop size: set a store's budget, see the 80% warning on the dashboard after a
grant, and approve a risky redemption (a new account redeeming high-value items) from the
review queue, while the member watches on their phone."""
import re
import secrets

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

DESKTOP = {"viewport": {"width": 1366, "height": 900}, "device_scale_factor": 1, "is_mobile": False,
           "has_touch": False}
STORE = "Store 12, Xuhui"


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    """HQ works at a desk: a laptop screen, no touch, a desktop user agent."""
    args = {k: v for k, v in browser_context_args.items() if k not in ("user_agent", "screen")}
    return {**args, **DESKTOP}


@pytest.fixture
def phone(browser, playwright):
    """A second browser: the member's phone (iPhone 13), with its own cookies."""
    device = dict(playwright.devices["iPhone 13"])
    device.pop("default_browser_type", None)
    context = browser.new_context(**device, locale="en-US")
    yield context.new_page()
    context.close()


def _register(page: Page, live_server: str, email: str):
    page.goto(f"{live_server}/register")
    page.get_by_label("Your name").fill("New Member")
    page.get_by_label("Email or mobile number").fill(email)
    page.get_by_label("Password", exact=True).fill("e2e-pass-2026")
    page.get_by_label("Repeat the password").fill("e2e-pass-2026")
    page.get_by_role("button", name=re.compile("Join|Register|Create", re.I)).click()
    expect(page).to_have_url(f"{live_server}/")


def test_hq_sets_a_budget_sees_the_warning_and_approves_a_risky_order(page: Page, phone: Page, log_in, live_server, shot):
    # Anything the Content-Security-Policy refuses in our pages or scripts, on either screen.
    # (Playwright styles its screenshots inline; those reports have no source URL.)
    blocked = []
    for p in (page, phone):
        p.on("console", lambda m: blocked.append((m.location.get("url"), m.text))
             if "Content Security Policy" in m.text and m.location.get("url") else None)
    email = f"new-{secrets.token_hex(4)}@example.com"
    _register(phone, live_server, email)

    # HQ sets Store 12's monthly budget.
    log_in("hq@example.com", expect_home=False)
    page.get_by_role("navigation", name="Staff").get_by_role("link", name="Budgets").click()
    expect(page.get_by_role("heading", name="Store budgets")).to_be_visible()
    page.get_by_label("Store", exact=True).select_option(label=STORE)
    page.get_by_label("Monthly budget (points)").fill("12000")
    page.get_by_label("Hold further grants for HQ approval").check()
    page.get_by_role("button", name="Save budget").click()
    expect(page.get_by_text("Budget saved.")).to_be_visible()
    expect(page.get_by_role("progressbar", name=STORE)).to_have_attribute("aria-valuenow", "0")
    shot(page, "budget-set")

    # A grant at the store takes it past 80%.
    page.get_by_role("navigation", name="Staff").get_by_role("link", name="Points grants").click()
    page.get_by_label("Store", exact=True).select_option(label=STORE)
    page.get_by_label("Member (email, mobile or member code)").fill(email)
    page.get_by_label("Points").fill("10000")
    page.get_by_label("Reason (shown on the member's statement)").fill("Welcome gift from the store manager")
    page.get_by_role("button", name="Grant points").click()
    expect(page.get_by_text("10,000 points granted.")).to_be_visible()
    expect(page.get_by_text("Warning: 80% of the budget is used.")).to_be_visible()
    shot(page, "grant-past-80")

    # The dashboard shows the warning.
    page.get_by_role("navigation", name="Staff").get_by_role("link", name="Programme").click()
    warnings = page.get_by_role("region", name="Budget warnings")
    expect(warnings).to_contain_text(f"{STORE} has used 83% of its discretionary budget this month")
    expect(page.get_by_role("heading", name="Cost by store")).to_be_visible()
    expect(page.locator("canvas[data-drawn='1']").first).to_be_attached()  # Chart.js drew under the CSP
    # A filter swaps the figures in place (HTMX), the table stays readable.
    page.get_by_label("Period").select_option("365d")
    expect(page).to_have_url(re.compile(r"period=365d"))
    expect(page.get_by_role("table", name="Cost by store")).to_contain_text(STORE)
    shot(page, "dashboard-warning")

    # The new member redeems high-value items: held for review.
    phone.goto(f"{live_server}/catalog?category=vouchers")
    phone.get_by_role("link", name=re.compile("¥50 store voucher")).first.click()
    phone.get_by_label("Quantity").fill("2")
    phone.get_by_label("Quantity").press("Tab")
    phone.get_by_role("button", name="Buy now").click()
    expect(phone.get_by_role("heading", name=re.compile(r"^Order PM"))).to_be_visible()
    expect(phone.locator(".status-line")).to_have_text("Being checked")
    number = re.search(r"PM\w+", phone.get_by_role("heading", name=re.compile(r"^Order PM")).inner_text()).group(0)
    shot(phone, "member-order-in-review")

    # HQ approves it from the queue, with a reason.
    page.get_by_role("navigation", name="Staff").get_by_role("link", name="Risk review").click()
    review = page.locator(".review").filter(has_text=number)
    expect(review).to_contain_text("New account redeeming a high-value item")
    shot(page, "review-queue")
    review.get_by_label("Approve: the order proceeds").check()
    review.get_by_label("Reason (kept in the audit log)").fill("Called the member; genuine first redemption")
    page.once("dialog", lambda dialog: dialog.accept())
    review.get_by_role("button", name="Decide").click()
    expect(page.get_by_text(f"Order {number} approved: it proceeds.")).to_be_visible()
    expect(page.get_by_text("No order is waiting for review.")).to_be_visible()

    # The member's order goes ahead: the two ¥50 store vouchers are coupons, now in the wallet.
    phone.reload()
    expect(phone.locator(".status-line")).to_have_text("Added to your wallet")
    expect(phone.locator(".timeline")).to_contain_text("Security check passed")
    shot(phone, "member-order-approved")
    assert not blocked, blocked


def test_hq_pages_fit_a_360px_screen(browser, live_server, shot):
    """HQ works at a desk, but every page still fits a small phone (shot() fails on any
    sideways overflow outside a scrolling table)."""
    context = browser.new_context(viewport={"width": 360, "height": 740}, locale="en-US")
    page = context.new_page()
    page.goto(f"{live_server}/login")
    page.get_by_label("Email or mobile number").fill("hq@example.com")
    page.get_by_label("Password").fill("demo-pass-2026")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{live_server}/hq")
    for path in ("/hq", "/hq/budgets", "/hq/grants", "/hq/risk", "/hq/members", "/hq/segments", "/hq/audit"):
        page.goto(live_server + path)
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        shot(page, "360" + path.replace("/", "-"))
    context.close()
