"""A service booked at phone size (issue 13): a member finds the demo's home cleaning by
kind, picks a slot and gives an address at checkout, and sees the booking on the order page
(no pickup QR); then moves it once."""
import re

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e


def test_a_member_books_a_home_service_slot_and_sees_it_on_the_order_page(page: Page, live_server, log_in, shot):
    log_in("diamond@example.com")
    page.goto(f"{live_server}/catalog?kind=service")
    page.get_by_role("link", name=re.compile("Home cleaning, 2 h")).first.click()
    expect(page.get_by_role("group", name="Choose a time")).to_be_visible()
    shot(page, "service item with slot picker")
    # The last slot is days away, past the 24-hour cut-off, so the booking may still move.
    page.locator("input[name=slot_id]").last.check()
    page.get_by_label("Address for the visit").fill("18 Garden Lane, Jing'an")
    page.get_by_role("button", name="Buy now").click()
    expect(page).to_have_url(re.compile(r"/orders/\d+$"))
    booking = page.locator("[data-booking]")
    expect(booking.get_by_role("heading", name="Your booking")).to_be_visible()
    expect(booking).to_contain_text("18 Garden Lane")
    expect(page.locator(".status-line")).to_contain_text("Booked")
    expect(page.get_by_text("Your pickup code")).to_have_count(0)
    shot(page, "order page with the booking")
    new_time = page.get_by_label("Move to another time (once)")
    new_time.select_option(index=new_time.locator("option").count() - 1)  # a later day, still movable
    page.get_by_role("button", name="Reschedule").click()
    expect(page.get_by_text("Your booking was moved.")).to_be_visible()
    expect(page.locator("[data-booking]")).to_contain_text("Booked (moved once)")
    expect(page.get_by_text("This booking was already moved once.")).to_be_visible()
    expect(page.get_by_role("button", name="Reschedule")).to_have_count(0)
    shot(page, "booking moved once")
