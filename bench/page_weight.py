"""Transfer sizes of member pages on a phone, cold (empty cache) and repeat (same browser),
as Chromium counts them (bytes on the wire: compressed bodies plus headers).

    .venv/bin/python -m bench.page_weight

Serves the demo on SQLite from a thread, logs in as the demo's silver member at 360x640,
and prints one JSON line last: {page: {cold_bytes, cold_requests, repeat_bytes,
repeat_static_requests}}. The service worker is blocked so the numbers are HTTP caching's
own (with it, a repeat visit's static files come from its cache anyway)."""
import json
import logging
import sys
import tempfile
import threading
from datetime import datetime, timezone
from pathlib import Path

PAGES = {"home": "/", "catalogue": "/catalog", "item": "/catalog/5"}


def serve(db_path: Path) -> str:
    from flask_migrate import upgrade
    from werkzeug.serving import make_server

    from mall import create_app
    from mall.clock import FrozenClock
    from mall.config import TestConfig
    from mall.demo import load_demo
    from mall.extensions import db

    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = f"sqlite:///{db_path}"
        SECRET_KEY = "bench-only"
        WTF_CSRF_ENABLED = True
        SESSION_COOKIE_SECURE = False
        TESTING = False

    now = datetime.now(timezone.utc).replace(microsecond=0)
    app = create_app(Config, clock=FrozenClock(now))
    with app.app_context():
        upgrade()
        load_demo(now)
        db.session.commit()
        db.session.remove()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}"


def measure(page, url: str) -> tuple[int, int, int]:
    """(bytes, requests, static requests that reached the network) for one page load."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    sizes, urls = {}, {}
    cdp.on("Network.requestWillBeSent", lambda e: urls.__setitem__(e["requestId"], e["request"]["url"]))
    cdp.on("Network.loadingFinished", lambda e: sizes.__setitem__(e["requestId"], e["encodedDataLength"]))
    page.goto(url)
    page.wait_for_load_state("networkidle")
    cdp.detach()
    on_wire = {k: v for k, v in sizes.items() if v > 0}
    static = [k for k in on_wire if "/static/" in urls.get(k, "")]
    if "-v" in sys.argv:
        for k, v in sorted(on_wire.items(), key=lambda kv: -kv[1]):
            print(f"  {v:>7} {urls.get(k, '?')}", file=sys.stderr)
    return sum(on_wire.values()), len(on_wire), len(static)


def main() -> None:
    from playwright.sync_api import sync_playwright

    base = serve(Path(tempfile.mkdtemp()) / "bench.sqlite3")
    results = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium",
                                    args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
        phone = dict(viewport={"width": 360, "height": 640}, is_mobile=True, has_touch=True, service_workers="block")
        login = browser.new_context(**phone)
        page = login.new_page()
        page.goto(f"{base}/login")
        page.get_by_label("Email or mobile number").fill("silver@example.com")
        page.get_by_label("Password").fill("demo-pass-2026")
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"{base}/")
        state = login.storage_state()
        for name, path in PAGES.items():
            context = browser.new_context(**phone, storage_state=state)  # logged in, empty cache
            tab = context.new_page()
            cold = measure(tab, base + path)
            repeat = measure(tab, base + path)
            results[name] = {"cold_bytes": cold[0], "cold_requests": cold[1],
                             "repeat_bytes": repeat[0], "repeat_static_requests": repeat[2]}
            context.close()
        browser.close()
    print(json.dumps(results), file=sys.stdout)


if __name__ == "__main__":
    main()
