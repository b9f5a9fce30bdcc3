"""Security hardening: headers and a CSP with no inline script that the templates respect,
secure cookie flags, rate limits on login, registration, reset and check-in, and no account
enumeration in the login and password-reset answers. (Rate limits on real Redis:
tests/integration/test_security_redis.py.)"""
import re
from pathlib import Path

import pytest

from mall import create_app
from mall.config import TestConfig
from mall.extensions import db
from tests.conftest import isolate_requests
from tests.factories import PASSWORD, make_user

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def test_every_response_carries_the_security_headers(client, tiers):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["script-src"].split() == ["'self'", "https://js.stripe.com"]
    assert directives["style-src"] == "'self'"
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert "Strict-Transport-Security" not in response.headers  # plain HTTP in tests
    assert client.get("/nowhere").headers["Content-Security-Policy"] == csp  # error pages too


INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I), "an inline <script> block"),
    (re.compile(r"<style\b", re.I), "an inline <style> block"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "an inline event handler (on...=)"),
    (re.compile(r"\sstyle\s*=", re.I), "a style attribute"),
    (re.compile(r"\shx-on", re.I), "hx-on (evaluated inline script)"),
    (re.compile(r"javascript:", re.I), "a javascript: URL"),
    (re.compile(r"hx-vals\s*=\s*['\"]js:", re.I), "hx-vals with js:"),
    (re.compile(r"hx-trigger\s*=\s*\"[^\"]*\[", re.I), "an hx-trigger filter (evaluated)"),
]


@pytest.mark.parametrize("template", sorted(p.relative_to(TEMPLATES).as_posix() for p in TEMPLATES.rglob("*.html")))
def test_no_template_carries_what_the_csp_would_block(template):
    text = re.sub(r"\{#.*?#\}", "", (TEMPLATES / template).read_text(encoding="utf-8"), flags=re.S)  # comments
    found = [what for pattern, what in INLINE if pattern.search(text)]
    assert not found, f"{template}: {found}"


def test_htmx_writes_no_inline_style():
    """htmx would add a <style> for its indicators, and copy style="" attributes while
    settling a swap; both are refused by the CSP, so both are switched off."""
    base = (TEMPLATES / "base.html").read_text(encoding="utf-8").replace(" ", "")
    assert '"includeIndicatorStyles":false' in base
    assert '"attributesToSettle":["class","width","height"]' in base


def test_session_and_remember_cookies_are_secure_httponly_and_samesite(fast_dir, clock):
    class Secure(TestConfig):
        SQLALCHEMY_DATABASE_URI = f"sqlite:///{fast_dir / 'secure.sqlite3'}"
        SESSION_COOKIE_SECURE = True

    app = create_app(Secure, clock=clock)
    isolate_requests(app)
    with app.app_context():
        db.create_all()
        from tests.factories import make_tiers
        make_tiers()
        make_user(clock.now(), login="cookie@example.com")
        db.session.commit()
        response = app.test_client().post("/login", data={"identifier": "cookie@example.com", "password": PASSWORD,
                                                          "remember": "y"})
        cookies = {c.split("=", 1)[0]: c for c in response.headers.getlist("Set-Cookie")}
        for name in ("session", "remember_token"):
            flags = cookies[name].lower()
            assert "secure" in flags and "httponly" in flags and "samesite=lax" in flags, cookies[name]
        assert "Strict-Transport-Security" in response.headers
        db.session.remove()


# --- rate limits --------------------------------------------------------------------------

def _login(client, identifier, ip="198.51.100.1"):
    return client.post("/login", data={"identifier": identifier, "password": "wrong-password-1"},
                       environ_base={"REMOTE_ADDR": ip})


def test_login_is_limited_per_account_even_from_many_addresses(client, tiers, clock):
    make_user(clock.now(), login="target@example.com")
    db.session.commit()
    statuses = [_login(client, "target@example.com", ip=f"198.51.100.{n}").status_code for n in range(6)]
    assert statuses == [422] * 5 + [429]
    assert _login(client, "someone-else@example.com").status_code == 422  # other accounts unaffected


def test_an_owner_logging_in_again_and_again_is_never_slowed(client, tiers, clock):
    make_user(clock.now(), login="owner@example.com")
    db.session.commit()
    for _ in range(7):
        assert client.post("/login", data={"identifier": "owner@example.com", "password": PASSWORD}).status_code == 302
        client.post("/logout")


def test_login_is_limited_per_address(client, tiers):
    statuses = [_login(client, f"guess{n}@example.com").status_code for n in range(31)]
    assert statuses == [422] * 30 + [429]
    assert _login(client, "guess@example.com", ip="198.51.100.99").status_code == 422


def test_registration_is_limited_per_address(client, tiers):
    def register(n, password="a-good-pass-42"):
        response = client.post("/register", data={"display_name": "Bot", "identifier": f"bot{n}@example.com",
                                                   "password": password, "confirm": password})
        client.post("/logout")
        return response.status_code
    # Five accounts a minute from one address; the sixth is refused.
    assert [register(n) for n in range(6)] == [302] * 5 + [429]


def test_failed_registration_attempts_are_limited_too(client, tiers):
    statuses = [client.post("/register", data={"display_name": "Bot", "identifier": f"x{n}@example.com",
                                               "password": "short", "confirm": "short"}).status_code
                for n in range(21)]
    assert statuses == [422] * 20 + [429]


def test_check_in_is_rate_limited(app, client, auth, tiers, clock):
    app.config["MALL_RATELIMIT_CHECKIN"] = "3 per minute"
    make_user(clock.now(), login="checker@example.com")
    db.session.commit()
    auth.login("checker@example.com")
    statuses = [client.post("/tasks/check-in").status_code for _ in range(4)]
    assert statuses[-1] == 429 and 429 not in statuses[:3]


# --- no account enumeration ---------------------------------------------------------------

def test_login_says_the_same_for_an_unknown_account_and_a_wrong_password(client, tiers, clock):
    make_user(clock.now(), login="known@example.com")
    db.session.commit()
    unknown = client.post("/login", data={"identifier": "unknown@example.com", "password": "wrong-password-1"})
    wrong = client.post("/login", data={"identifier": "known@example.com", "password": "wrong-password-1"})
    assert unknown.status_code == wrong.status_code == 422

    def message(response):
        return re.findall(r'<p class="error"[^>]*>([^<]*)</p>', response.get_data(as_text=True))
    assert message(unknown) == message(wrong)
    assert len(message(wrong)) == 1 and "password don" in message(wrong)[0]


def test_password_reset_answers_the_same_whether_or_not_the_account_exists(client, tiers, clock, monkeypatch):
    from mall.notifications import mail
    sent = []
    monkeypatch.setattr(mail, "mailer_for", lambda config: type("M", (), {"send": lambda self, m: sent.append(m)})())
    make_user(clock.now(), login="known@example.com")
    db.session.commit()
    known = client.post("/password/forgot", data={"identifier": "known@example.com"})
    unknown = client.post("/password/forgot", data={"identifier": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 200
    assert known.get_data(as_text=True) == unknown.get_data(as_text=True)
    assert [m["To"] for m in sent] == ["known@example.com"]
    link = re.search(r"(/password/reset/\S+)", sent[0].get_content()).group(1)

    assert client.get(link).status_code == 200
    weak = client.post(link, data={"password": "short", "confirm": "short"})
    assert weak.status_code == 422
    done = client.post(link, data={"password": "a-new-password-77", "confirm": "a-new-password-77"})
    assert done.status_code == 302 and done.headers["Location"].endswith("/login")
    assert client.post("/login", data={"identifier": "known@example.com", "password": "a-new-password-77"}).status_code == 302
    client.post("/logout")
    again = client.post(link, data={"password": "another-pass-88", "confirm": "another-pass-88"})
    assert again.status_code == 400 and "already used" in again.get_data(as_text=True)


def test_a_forged_reset_link_is_refused(client, tiers):
    assert client.get("/password/reset/not-a-real-token").status_code == 400
