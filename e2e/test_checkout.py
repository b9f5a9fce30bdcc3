"""Checkout on a phone, in counter mode (no Stripe key): a points + cash plan, the hold's
countdown, paying at the counter, the order and its timeline; a sold-out item."""
import re

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

DIAMOND = "diamond@example.com"


def _open_item(page: Page, live_server: str, name: str):
    page.goto(f"{live_server}/catalog")
    page.get_by_role("link", name=re.compile(name)).first.click()
    expect(page.get_by_role("heading", name=re.compile("^" + re.escape(name)))).to_be_visible()


def test_member_buys_with_points_and_cash_sees_the_countdown_and_pays_at_the_counter(page: Page, log_in, live_server, shot):
    log_in(DIAMOND)
    _open_item(page, live_server, "Stainless steel tumbler")

    page.get_by_label(re.compile(r"1,200 points \+ ¥9\.90")).check()
    quote = page.locator("#quote")
    expect(quote).to_contain_text("¥9.90")          # refreshed by HTMX, no reload
    expect(quote.locator("dd").first).to_have_text("1,200")
    page.get_by_label("Quantity").fill("2")
    page.get_by_label("Quantity").press("Tab")
    expect(quote).to_contain_text("¥19.80")
    expect(quote.locator("dd").first).to_have_text("2,400")
    shot(page, "plan-and-quote")

    page.get_by_role("button", name="Buy now").click()
    expect(page.get_by_role("heading", name=re.compile(r"^Order PM"))).to_be_visible()
    expect(page.get_by_text("Awaiting payment")).to_be_visible()
    timer = page.get_by_role("timer")
    expect(timer).to_contain_text("Held for you until")
    expect(timer.locator("[data-countdown]")).to_have_text(re.compile(r"\((9|10):\d\d\)"))
    expect(page.get_by_text("Pay ¥19.80 at the store counter when you pick up.")).to_be_visible()
    shot(page, "held-with-countdown")

    page.get_by_role("button", name="Confirm: I will pay at the counter").click()
    expect(page.locator(".status-line")).to_have_text("Ready for pickup")
    expect(page.get_by_text("¥19.80 to pay at the counter.")).to_be_visible()
    timeline = page.locator(".timeline")
    expect(timeline).to_contain_text("Order placed, stock held and points taken")
    expect(timeline).to_contain_text("Ready for pickup")
    shot(page, "ready-with-timeline")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Orders").click()
    expect(page.locator(".order-list li").first).to_contain_text("Ready for pickup")
    shot(page, "orders")


def test_member_cancels_an_unpaid_order_after_confirming(page: Page, log_in, live_server):
    log_in(DIAMOND)
    _open_item(page, live_server, "Sheet mask box")
    page.get_by_label(re.compile(r"1,000 points \+ ¥9\.90")).check()
    page.get_by_role("button", name="Buy now").click()
    expect(page.get_by_text("Awaiting payment")).to_be_visible()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Cancel order").click()
    expect(page.locator(".status-line")).to_have_text("Cancelled")
    expect(page.locator(".timeline")).to_contain_text("Cancelled; stock and points returned")


def test_a_sold_out_item_says_so_and_cannot_be_bought(page: Page, log_in, live_server, shot):
    log_in(DIAMOND)
    _open_item(page, live_server, "Ceramic rice bowls")
    expect(page.get_by_text("Sold out").first).to_be_visible()
    expect(page.get_by_role("button", name="Buy now")).to_have_count(0)
    shot(page, "sold-out")


def test_member_adds_to_cart_without_leaving_the_item_then_changes_quantity_and_removes(page: Page, log_in, live_server, shot):
    log_in(DIAMOND)
    _open_item(page, live_server, "Hand cream trio")
    page.get_by_role("button", name="Add to cart").click()
    expect(page.get_by_role("status").filter(has_text="Added to your cart.")).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile("^Hand cream trio"))).to_be_visible()  # still on the item
    page.get_by_role("link", name="View cart").click()
    expect(page.get_by_role("heading", name="Cart")).to_be_visible()
    quantity = page.get_by_label("Quantity")
    quantity.fill("3")
    quantity.press("Tab")
    expect(page.locator(".quote dd").first).to_have_text("3,600")   # 3 × 1,200, re-priced by HTMX
    shot(page, "cart")
    page.get_by_role("button", name=re.compile("Remove")).click()
    expect(page.get_by_text("Your cart is empty.")).to_be_visible()
