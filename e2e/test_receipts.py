"""A member on a small phone (360x640) opens the receipt behind a purchase line of their
statement, reads it, and taps "Question this line", which lands on the appeal form for that
line, with a way back to the receipt."""
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

MEMBER = "silver@example.com"  # the demo's Silver member: till receipts with lines, the last one pending
PASSWORD = "demo-pass-2026"
AXE = Path(__file__).parent / "vendor" / "axe-4.14.1.min.js"


@pytest.fixture
def phone(browser, live_server):
    # bypass_csp: only so that axe can be injected (as in test_member_accessibility.py)
    context = browser.new_context(viewport={"width": 360, "height": 640}, is_mobile=True, has_touch=True,
                                  locale="en-US", bypass_csp=True)
    page = context.new_page()
    page.goto(f"{live_server}/login")
    page.get_by_label("Email or mobile number").fill(MEMBER)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{live_server}/")
    yield page
    context.close()


def _too_small(page, selector: str) -> list[str]:
    """Links and buttons under `selector` smaller than a 44 px tap target."""
    return page.evaluate("""(selector) => [...document.querySelectorAll(selector + ' a, ' + selector + ' button')]
        .filter(el => { const r = el.getBoundingClientRect(); return r.width && r.height < 44; })
        .map(el => el.textContent.trim())""", selector)


def _axe(page) -> list[dict]:
    """Serious or critical axe-core violations (WCAG 2.1 A/AA and best practice) on the page."""
    page.add_script_tag(path=str(AXE))
    assert page.evaluate("axe.version") == "4.14.1"
    result = page.evaluate("""() => axe.run(document, {resultTypes: ['violations'],
        runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})""")
    return [{"id": v["id"], "nodes": [n["target"] for n in v["nodes"]][:3]}
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


def test_statement_line_opens_its_receipt_and_question_this_line_opens_the_appeal(phone, live_server, shot):
    phone.goto(f"{live_server}/points/statement")
    link = phone.locator("a.line-receipt-link").first
    receipt_no = re.fullmatch(r"Receipt no\. (\S+)", link.inner_text().strip()).group(1)
    assert not _too_small(phone, ".line-receipt")
    shot(phone, "statement")
    link.click()

    expect(phone).to_have_url(re.compile(r"/purchases/\d+$"))
    expect(phone.get_by_role("heading", level=1)).to_have_text(f"Receipt no. {receipt_no}")
    main = phone.get_by_role("main")
    expect(main).to_contain_text(re.compile(r"Store \d+, \w+"))             # the demo's stores
    expect(main).to_contain_text(re.compile(r"\d{1,2} \w{3} \d{4}, \d{2}:\d{2}"))  # shop time, 24-hour clock
    items = phone.get_by_role("region", name="Items")
    expect(items.locator(".receipt-lines li").first).to_contain_text("Quantity 1")
    expect(items).to_contain_text("Total paid")
    points = phone.get_by_role("region", name="Points")
    expect(points.locator(".receipt-earned")).to_contain_text(re.compile(r"^\+[\d,]+ points$"))
    expect(points.get_by_role("list", name="How the points were worked out")).to_contain_text("Base: 1 point per ¥")
    assert not _too_small(phone, "main")
    shot(phone, "receipt")
    assert _axe(phone) == []

    receipt_url = phone.url
    phone.get_by_role("link", name="Question this line").click()
    expect(phone).to_have_url(re.compile(r"/appeals/new\?entry=\d+$"))
    expect(phone.get_by_role("heading", level=1)).to_have_text("Question this")
    subject = phone.get_by_role("region", name="What you are questioning")
    expect(subject).to_contain_text(f"receipt {receipt_no}")
    expect(phone.get_by_label("What is wrong?")).to_be_visible()
    shot(phone, "appeal-form")
    subject.get_by_role("link", name=f"Receipt no. {receipt_no}").click()  # and back to the receipt
    expect(phone).to_have_url(receipt_url)
