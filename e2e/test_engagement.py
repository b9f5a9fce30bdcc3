"""Tasks and notifications on a phone: the demo's engaged member checks in (day 7 of a
streak), taps again and is refused politely, reads the expiry reminder in the inbox, and
opts out of one kind of message. Assertions are on what the member sees."""
import re
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

ENGAGED = "engaged@example.com"


def test_check_in_streak_inbox_and_opt_out(page: Page, log_in, shot, live_server):
    log_in(ENGAGED)

    # The home shows the tasks with progress bars.
    streak_bar = page.get_by_role("progressbar", name="Check-in streak")
    expect(streak_bar).to_have_attribute("aria-valuetext", "6-day streak")
    expect(page.get_by_role("progressbar", name="Profile")).to_have_attribute("aria-valuetext", "0 of 3 fields")
    shot(page, "home-tasks")

    page.get_by_role("link", name="Check in and see all tasks").click()
    expect(page.get_by_role("heading", name="Tasks", level=1)).to_be_visible()
    card = page.locator("#checkin")
    expect(card.get_by_text("6-day streak")).to_be_visible()

    # First check-in of the day: day 7 pays the streak bonus; the card updates in place.
    page.evaluate("window.__samePage = true")
    card.get_by_role("button", name="Check in today").click()
    expect(card.get_by_role("status")).to_have_text("Checked in: day 7 of your streak, +35 points.")
    expect(card.get_by_text("7-day streak")).to_be_visible()
    expect(card.get_by_role("progressbar", name="Streak bonus")).to_have_attribute("aria-valuetext", "7 of 7 days")
    expect(card.get_by_text("Used today: 35.")).to_be_visible()
    assert page.evaluate("window.__samePage === true"), "checking in reloaded the page"
    shot(page, "checked-in")

    # A second tap the same day is refused politely, and nothing changes.
    card.get_by_role("button", name="Check in today").click()
    expect(card.get_by_role("status")).to_have_text(
        "You have already checked in today. Come back tomorrow to keep your streak going!")
    expect(card.get_by_text("7-day streak")).to_be_visible()
    shot(page, "second-check-in-refused")

    # The inbox: the unread badge, then the expiry reminder.
    inbox_link = page.get_by_role("link", name=re.compile(r"^Inbox"))
    expect(inbox_link.locator(".badge")).to_have_text("1")
    inbox_link.click()
    expect(page.get_by_role("heading", name="Inbox", level=1)).to_be_visible()
    expect(page.get_by_role("main").get_by_text("1 unread")).to_be_visible()
    shot(page, "inbox")
    page.get_by_role("link", name=re.compile(r"300 points expire on")).click()
    expect(page.get_by_role("heading", name=re.compile(r"^300 points expire on \w{3} \d{1,2}, \d{4}$"))).to_be_visible()
    expect(page.get_by_text("In 20 days, 300 of your points expire.")).to_be_visible()
    expect(page.get_by_role("link", name="Spend them now")).to_be_visible()
    shot(page, "reminder")
    page.get_by_role("link", name="Inbox", exact=True).last.click()
    expect(page.get_by_role("main").get_by_text("0 unread")).to_be_visible()
    expect(page.get_by_role("link", name=re.compile(r"^Inbox")).locator(".badge")).to_have_count(0)

    # Opting out of one kind.
    page.get_by_role("link", name="Choose which messages you get").click()
    order_status = page.get_by_label("Order status")
    expect(order_status).to_be_checked()
    order_status.uncheck()
    page.get_by_role("button", name="Save choices").click()
    expect(page.get_by_text("Your notification choices are saved.")).to_be_visible()
    expect(page.get_by_label("Order status")).not_to_be_checked()
    expect(page.get_by_label("Points about to expire")).to_be_checked()
    shot(page, "opted-out")


DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture
def desk(browser, live_server):
    context = browser.new_context(viewport=DESKTOP, locale="en-US")
    page = context.new_page()
    yield page
    context.close()


def test_a_merchandiser_previews_a_purchase_under_the_rules(desk: Page, live_server, demo_now, shot):
    desk.goto(f"{live_server}/login")
    desk.get_by_label("Email or mobile number").fill("merch@example.com")
    desk.get_by_label("Password").fill("demo-pass-2026")
    desk.get_by_role("button", name="Log in").click()
    desk.get_by_role("link", name="Earning rules").click()
    expect(desk.get_by_role("heading", name="Earning rules", level=1)).to_be_visible()
    expect(desk.get_by_role("cell", name="Fresh day", exact=True)).to_be_visible()

    # The next Wednesday at noon, shop time (UTC+8).
    local = demo_now + timedelta(hours=8)
    wednesday = local + timedelta(days=(2 - local.weekday()) % 7)
    preview = desk.get_by_role("region", name="Preview")
    preview.get_by_label("Tier").select_option(label="Gold")
    preview.get_by_label("Spend (¥)").fill("200")
    preview.get_by_label("Category").select_option(label="Fresh food")
    preview.get_by_label("Store").select_option(label="SH-012 Store 12, Xuhui")
    preview.get_by_label("When").fill(wednesday.strftime("%Y-%m-%dT12:00"))
    preview.get_by_role("button", name="Preview").click()
    result = desk.locator("#preview-result")
    expect(result).to_contain_text(re.compile(r"A Gold member spending ¥200 on .* earns 480 points:"))
    expect(result.locator(".formula")).to_have_text("base 200 × Gold tier 1.2 × Fresh day 2 = 480")
    shot(desk, "rules-preview")
