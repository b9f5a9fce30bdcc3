"""A member's journey on a phone: home, catalogue, locked items, target reward, statement,
language, and a frozen account being turned away. Assertions are on what the member sees."""
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

SILVER = "silver@example.com"
GOLD_BY_MOBILE = "13800000002"
FROZEN = "frozen@example.com"
TRANSLATIONS = Path(__file__).resolve().parent.parent / "mall" / "translations"


def _points(text: str) -> int:
    return int(re.sub(r"[^\d]", "", text))


def _tiles(page: Page):
    return page.locator("#items li.tile")


def _balance(page: Page) -> int:
    return _points(page.locator(".balance-value").inner_text())


def test_silver_member_home_shows_balance_tier_progress_and_expiry_notice(page: Page, log_in, shot):
    log_in(SILVER)

    expect(page.get_by_role("heading", name=re.compile(r"^[\d,]+ points$"))).to_be_visible()
    assert _balance(page) > 0
    expect(page.get_by_text("Hello, Lin Xiao")).to_be_visible()
    expect(page.locator(".greeting .tier-badge")).to_have_text("Silver")

    tier_bar = page.get_by_role("progressbar", name="Silver → Gold")
    expect(tier_bar).to_be_visible()
    expect(tier_bar).to_have_attribute("aria-valuetext", re.compile(r"^¥[\d,]+ of ¥5,000 spent$"))
    expect(page.get_by_text(re.compile(r"Spend ¥[\d,]+ more in 12 months to reach Gold"))).to_be_visible()

    notice = page.get_by_role("note").filter(has_text="expire by")
    expect(notice).to_contain_text(re.compile(r"[\d,]+ points expire by \w{3} \d{1,2}, \d{4}"))
    expect(notice.get_by_role("link", name="Spend them now")).to_be_visible()
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Home")).to_have_attribute(
        "aria-current", "page")
    shot(page, "home")


def test_catalogue_filters_by_category_and_affordability_and_loads_more(page: Page, log_in, shot):
    log_in(SILVER)
    balance = _balance(page)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Rewards").click()
    expect(page.get_by_role("heading", name="Rewards", level=1)).to_be_visible()
    expect(page.get_by_text(f"Prices for Silver members. You have {balance:,} points.")).to_be_visible()
    # How many the demo holds grows with each reward kind it shows: read it (up to three pages).
    expect(page.locator("#items-count")).to_have_text(re.compile(r"^\d+ rewards$"))
    total = int(page.locator("#items-count").inner_text().split()[0])
    assert 24 < total <= 36, total  # three pages of 12
    expect(_tiles(page)).to_have_count(12)
    shot(page, "catalogue")

    # "Load more" appends the next page under the first one, in place (htmx, no page load).
    page.evaluate("window.__samePage = true")
    first_names = _tiles(page).locator(".tile-name").all_inner_texts()
    page.get_by_role("link", name="Load more").click()
    expect(_tiles(page)).to_have_count(24)
    assert _tiles(page).locator(".tile-name").all_inner_texts()[:12] == first_names
    assert page.evaluate("window.__samePage === true"), "Load more reloaded the page instead of appending"
    page.get_by_role("link", name="Load more").click()
    expect(_tiles(page)).to_have_count(total)
    expect(page.get_by_role("link", name="Load more")).to_have_count(0)
    shot(page, "catalogue-all-loaded")

    # Choosing a category swaps the list in place and puts the filter in the address bar.
    page.get_by_label("Category").select_option(label="Kitchen")
    expect(page).to_have_url(re.compile(r"/catalog\?.*category=kitchen"))
    expect(page.locator("#items-count")).to_have_text("4 rewards")
    expect(_tiles(page).locator(".tile-name")).to_have_text(
        ["Stainless steel tumbler", "Ceramic rice bowls (4)", "Chef's knife", "Cast iron casserole"])
    assert page.evaluate("window.__samePage === true"), "the category filter reloaded the page"
    shot(page, "catalogue-kitchen")

    # "I can afford it now": only unlocked, in-stock items priced within the balance.
    page.get_by_label("Category").select_option(label="All categories")
    expect(page.locator("#items-count")).to_have_text(f"{total} rewards")
    page.get_by_label("I can afford it now").check()
    expect(page).to_have_url(re.compile(r"affordable=1"))
    expect(page.locator("#items-count")).not_to_have_text(f"{total} rewards")
    count = _tiles(page).count()
    assert 0 < count < total
    for tile in _tiles(page).all():
        expect(tile).not_to_have_class(re.compile(r"\blocked\b"))
        expect(tile.locator(".stock")).not_to_have_text("Sold out")
        price = _points(tile.locator(".tile-price").inner_text().split("pts")[0])
        assert price <= balance, f"{tile.locator('.tile-name').inner_text()} costs {price} > {balance}"
    expect(page.get_by_text("Down duvet, queen")).to_have_count(0)
    expect(page.get_by_text("Ceramic rice bowls (4)")).to_have_count(0)  # sold out
    shot(page, "catalogue-affordable")


def test_locked_item_tells_a_silver_member_how_much_more_to_spend(page: Page, log_in, shot):
    log_in(SILVER)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Rewards").click()
    page.get_by_label("Category").select_option(label="Home")
    locked_tile = page.locator("li.tile", has_text="Down duvet, queen")
    expect(locked_tile).to_contain_text("Gold and above")
    locked_tile.get_by_role("link").click()

    expect(page.get_by_role("heading", name="Down duvet, queen", level=1)).to_be_visible()
    unlock = page.get_by_role("note").filter(has_text="Reach Gold")
    expect(unlock).to_contain_text(re.compile(r"Reach Gold: ¥[\d,]+ more spend"))
    bar = unlock.get_by_role("progressbar", name="Progress to Gold")
    expect(bar).to_be_visible()
    expect(bar).to_have_attribute("aria-valuetext", re.compile(r"^¥[\d,]+ of ¥5,000$"))
    value = int(bar.get_attribute("aria-valuenow"))
    assert 0 <= value < 100
    shot(page, "locked-item")


def test_pinned_target_reward_shows_its_progress_on_home(page: Page, log_in, shot):
    log_in(SILVER)
    balance = _balance(page)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Rewards").click()
    page.get_by_label("Category").select_option(label="Kitchen")
    page.locator("li.tile", has_text="Stainless steel tumbler").get_by_role("link").click()
    expect(page.get_by_role("heading", name="Stainless steel tumbler", level=1)).to_be_visible()
    expect(page.locator("article .price strong")).to_have_text("2,200 points")
    shot(page, "item")

    page.get_by_role("button", name="Pin as my target reward").click()
    expect(page.get_by_text("Pinned as your target reward. Track it on your home page.")).to_be_visible()
    expect(page.get_by_role("button", name="Unpin target reward")).to_be_visible()
    shot(page, "item-pinned")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Home").click()
    saving = page.get_by_role("region", name="Saving for")
    expect(saving.get_by_role("link", name="Stainless steel tumbler")).to_be_visible()
    bar = saving.get_by_role("progressbar", name="Target reward progress")
    expect(bar).to_have_attribute("aria-valuetext", f"{balance:,} / 2,200 points")
    expect(saving.get_by_text(f"{balance:,} / 2,200 points")).to_be_visible()
    if balance < 2200:
        expect(saving.get_by_text(f"{2200 - balance:,} points to go.")).to_be_visible()
    else:  # the games test may have won this member a 500-point prize before (a 2% box)
        expect(saving.get_by_text("You can redeem it now!")).to_be_visible()
    shot(page, "home-with-target")


def test_points_statement_filters_by_type(page: Page, log_in, shot):
    log_in(SILVER)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Statement").click()
    expect(page.get_by_role("heading", name="Points statement")).to_be_visible()
    lines = page.locator("#statement li.line")
    expect(lines.first).to_be_visible()
    total = lines.count()
    kinds = set(lines.locator(".line-kind").all_inner_texts())
    assert {"Earned", "Spent"} <= kinds
    shot(page, "statement")

    filters = page.get_by_role("navigation", name="Filter by type")
    filters.get_by_role("link", name="Spent").click()
    expect(page).to_have_url(re.compile(r"kind=spent"))
    expect(filters.get_by_role("link", name="Spent")).to_have_attribute("aria-current", "true")
    # The demo's one redemption, plus any plays test_games.py paid for earlier in the session.
    expect(lines.locator(".line-kind").first).to_have_text("Spent")
    assert set(lines.locator(".line-kind").all_inner_texts()) == {"Spent"}
    expect(lines.filter(has_text="Redeemed Free coffee coupon")).to_have_count(1)
    expect(page.get_by_text(re.compile(r"^\d+ lines?$"))).to_be_visible()
    shot(page, "statement-spent")

    filters.get_by_role("link", name="Earned").click()
    expect(filters.get_by_role("link", name="Earned")).to_have_attribute("aria-current", "true")
    expect(lines.first.locator(".line-kind")).to_have_text("Earned")
    assert set(lines.locator(".line-kind").all_inner_texts()) == {"Earned"}
    assert lines.count() < total

    filters.get_by_role("link", name="Expired").click()
    expect(filters.get_by_role("link", name="Expired")).to_have_attribute("aria-current", "true")
    expect(filters.get_by_role("link", name="All")).not_to_have_attribute("aria-current", "true")
    expect(page.get_by_text("Nothing of this type yet.")).to_be_visible()
    shot(page, "statement-expired-empty")


def _zh_catalog():
    """The zh_Hans messages another engineer maintains, if they exist yet."""
    from babel.messages.pofile import read_po
    pos = sorted(TRANSLATIONS.glob("zh_Hans/LC_MESSAGES/*.po"))
    if not pos:
        return None
    with pos[0].open("rb") as f:
        return read_po(f, locale="zh_Hans")


def _zh(catalog, msgid: str) -> str | None:
    message = catalog.get(msgid) if catalog else None
    if message is None or message.fuzzy or not message.string:
        return None
    return message.string if isinstance(message.string, str) else message.string[0]


def test_member_switches_language_to_chinese_and_back(page: Page, log_in, shot):
    log_in(GOLD_BY_MOBILE)  # not the Silver member: the choice is saved on the account
    expect(page.locator("html")).to_have_attribute("lang", "en")
    language = page.get_by_role("banner").get_by_role("combobox")
    expect(language).to_have_value("en")

    language.select_option(label="简体中文")
    expect(page.locator("html")).to_have_attribute("lang", "zh-Hans")
    expect(language).to_have_value("zh_Hans")
    expect(page).to_have_url(re.compile(r"/$"))
    # Content entered in two languages follows the reader.
    expect(page.locator(".greeting .tier-badge")).to_have_text("金卡")
    catalog = _zh_catalog()
    if catalog is not None:  # the UI itself speaks Chinese once the zh_Hans catalogue exists
        main_nav = page.locator(".bottom-nav")
        for scope, role, english in [(main_nav, "link", "Home"), (main_nav, "link", "Rewards"),
                                     (main_nav, "link", "Statement"), (page, "heading", "Your tier"),
                                     (page, "heading", "Recent activity"), (page, "button", "Log out")]:
            chinese = _zh(catalog, english)
            assert chinese and re.search(r"[\u4e00-\u9fff]", chinese), \
                f"zh_Hans has no Chinese translation for {english!r}: {chinese!r}"
            expect(scope.get_by_role(role, name=chinese, exact=True)).to_be_visible()
        expect(main_nav.get_by_role("link", name="Rewards")).to_have_count(0)
        expect(page.get_by_role("heading", name="Your tier")).to_have_count(0)
    shot(page, "home-zh")

    # Chinese sticks while browsing: the catalogue shows Chinese item names.
    page.locator(".bottom-nav a").nth(1).click()
    expect(page.get_by_text("亚麻抱枕套")).to_be_visible()
    expect(page.get_by_text("Linen cushion cover")).to_have_count(0)
    shot(page, "catalogue-zh")

    language.select_option(label="English")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", name="Rewards", level=1)).to_be_visible()
    expect(page.get_by_text("Linen cushion cover")).to_be_visible()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Home").click()
    expect(page.get_by_role("heading", name="Your tier")).to_be_visible()
    expect(page.locator(".greeting .tier-badge")).to_have_text("Gold")
    shot(page, "home-en-again")


def test_frozen_member_is_refused_at_login_and_told_why(page: Page, log_in, live_server, shot):
    log_in(FROZEN, expect_home=False)
    expect(page).to_have_url(re.compile(r"/login"))
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Your account is frozen: suspected points farming, under review.")
    expect(alert).to_contain_text("Please contact member services.")
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)
    shot(page, "frozen-login")

    # And nothing behind the login opens for them.
    page.goto(f"{live_server}/points/statement")
    expect(page).to_have_url(re.compile(r"/login"))
