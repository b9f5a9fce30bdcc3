"""End-to-end set-up: the real app (real migrations, real CSRF, demo data) served on
127.0.0.1 from a thread, driven by Debian's Chromium at iPhone 13 size.

Run with `python -m pytest e2e`. Screenshots of every page visited land in
test-artifacts/e2e/ at the repository root.
"""
import logging
import os
import re
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.services import unavailable

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "test-artifacts" / "e2e"
TRANSLATIONS = REPO / "mall" / "translations"
DEVICE = "iPhone 13"

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


# --- browser -----------------------------------------------------------------------------

@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """pytest-playwright has no option for an executable path; Playwright's own browser
    download is unreachable here, so drive Debian's Chromium."""
    if not os.access(CHROMIUM, os.X_OK):
        unavailable(f"Chromium not found at {CHROMIUM} (apt-get install chromium); "
                    "e2e tests need a real browser")
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM), "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args, playwright):
    """A member's phone: iPhone 13 viewport, touch and user agent, in US English."""
    phone = dict(playwright.devices[DEVICE])
    phone.pop("default_browser_type", None)  # the descriptor says webkit; we drive Chromium
    return {**browser_context_args, **phone, "locale": "en-US"}


# --- the app -----------------------------------------------------------------------------

def compile_translations() -> int:
    """Compile every .po under mall/translations to its .mo (gitignored), if any exist.
    Returns how many catalogues were compiled."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    compiled = 0
    for po_path in sorted(TRANSLATIONS.glob("*/LC_MESSAGES/*.po")):
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file, locale=po_path.parent.parent.name)
        with po_path.with_suffix(".mo").open("wb") as mo_file:
            write_mo(mo_file, catalog, use_fuzzy=False)
        compiled += 1
    return compiled


@pytest.fixture(scope="session")
def translations_compiled() -> int:
    return compile_translations()


@pytest.fixture(scope="session")
def demo_now() -> datetime:
    """The app's frozen clock: dates on screen don't move while the suite runs."""
    return datetime.now(timezone.utc).replace(microsecond=0)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory, translations_compiled, demo_now):
    """The app as production runs it (migrations, CSRF on), on a free port, with demo data."""
    from flask_migrate import upgrade
    from werkzeug.serving import make_server

    from mall import create_app
    from mall.clock import FrozenClock
    from mall.config import TestConfig
    from mall.demo import load_demo
    from mall.extensions import db

    db_path = tmp_path_factory.mktemp("e2e-db") / "mall.sqlite3"

    class E2EConfig(TestConfig):
        SQLALCHEMY_DATABASE_URI = f"sqlite:///{db_path}"
        SECRET_KEY = "e2e-only-not-secret"
        WTF_CSRF_ENABLED = True
        SESSION_COOKIE_SECURE = False
        TESTING = False  # behave as in production (no exception propagation to the server)
        # Every test logs in from 127.0.0.1, many as the same demo member: lift the login
        # limits here (they have their own tests: tests/unit/test_security.py, on Redis in
        # tests/integration/test_security_redis.py).
        MALL_RATELIMIT_LOGIN = MALL_RATELIMIT_LOGIN_PER_ACCOUNT = "1000 per minute"
        # Likewise the earning velocity limits (receipt claims, check-ins): the demo member
        # earns in many tests under one frozen clock (tested in tests/unit/test_risk.py and
        # tests/unit/test_tasks_budget_velocity.py).
        MALL_RISK_VELOCITY = {"member": (10_000, 3600), "device": (10_000, 3600), "ip": (10_000, 3600)}

    app = create_app(E2EConfig, clock=FrozenClock(demo_now))
    with app.app_context():
        upgrade()  # the real migrations in migrations/, from an empty database
        load_demo(demo_now)
        _top_up_diamond(demo_now)
        db.session.commit()
        db.session.remove()

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    # Links in QR codes and emails are built on MALL_BASE_URL: this server's address.
    app.config["MALL_BASE_URL"] = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, name="e2e-live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


# --- helpers -----------------------------------------------------------------------------

def _top_up_diamond(now: datetime) -> None:
    """The diamond demo member pays in many files of one session (checkout, a home service, the
    cash-plan quotes, presale, the wallet's coupon), and the demo itself now spends 800 of their
    points on a coupon: 10,000 more points for this session keep each test's purchase affordable
    whatever ran before it. (Silver is left alone: its "saving for" test needs it under 2,200.)"""
    from mall.accounts import services as accounts
    from mall.points.ledger import credit_points
    diamond = accounts.find_by_identifier("diamond@example.com")
    credit_points(diamond.id, 10_000, reason="welcome", source="test", key="e2e-diamond-top-up",
                  expires_at=now + timedelta(days=365), now=now - timedelta(days=30))

@pytest.fixture(scope="session", autouse=True)
def _artifacts_dir():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


# A full-page capture keeps the layout viewport at phone height, so the fixed bottom nav would
# be painted over the middle of a long page; in screenshots it sits at the end instead.
SCREENSHOT_STYLE = ".bottom-nav{position:static!important}"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")


@pytest.fixture
def shot(request):
    """shot(page, name): check the page fits the phone's width (no sideways scrolling), then
    save a full-page PNG as test-artifacts/e2e/<test>--<name>.png."""
    test = _slug(request.node.originalname.removeprefix("test_"))

    def take(page, name: str) -> Path:
        page.wait_for_load_state()
        overflow = page.evaluate("""() => {
            const width = document.documentElement.clientWidth;
            // Content inside its own sideways scroller (overflow-x auto/scroll/hidden) is fine.
            const insideScroller = el => { for (let p = el.parentElement; p && p !== document.body;
                                                p = p.parentElement) {
                if (getComputedStyle(p).overflowX !== 'visible') return true; } return false; };
            return [...document.querySelectorAll('body *')]
              .filter(el => { const r = el.getBoundingClientRect();
                              return r.width && r.right > width + 1 && !insideScroller(el); })
              .slice(0, 5).map(el => el.tagName.toLowerCase() + (el.className ? '.' + el.className : ''));
        }""")
        path = ARTIFACTS / f"{test}--{_slug(name)}.png"
        page.screenshot(path=str(path), full_page=True, style=SCREENSHOT_STYLE, animations="disabled")
        assert not overflow, f"{page.url} is wider than the phone screen; overflowing: {overflow}"
        return path

    return take


DEMO_PASSWORD = "demo-pass-2026"


@pytest.fixture
def log_in(page, live_server, shot):
    """log_in(login): fill the real login form as a member would, and land on their home."""
    from playwright.sync_api import expect

    def do(login: str, password: str = DEMO_PASSWORD, *, expect_home: bool = True):
        page.goto(f"{live_server}/login")
        expect(page.get_by_role("heading", name="Log in")).to_be_visible()
        page.get_by_label("Email or mobile number").fill(login)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        if expect_home:
            expect(page).to_have_url(f"{live_server}/")
        return page

    return do
