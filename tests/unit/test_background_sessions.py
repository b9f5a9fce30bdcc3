"""The service worker's background refreshes (X-Mall-Background) never write the session
cookie: one started before a login or a language switch and answered after it would otherwise
put the old session back (seen in e2e: a member logged out, or switched back to Chinese)."""
from mall.extensions import db
from tests.factories import make_user


def _session_cookie_set(response) -> bool:
    return any(h.startswith("session=") for h in response.headers.getlist("Set-Cookie"))


def test_a_background_refresh_leaves_the_session_cookie_alone(tiers, auth, client, clock):
    make_user(clock.now(), login="sw@example.com")
    db.session.commit()
    auth.login("sw@example.com")
    client.get("/card")                                   # the session as the page left it
    quiet = client.get("/offline/keep", headers={"X-Mall-Background": "1"})
    assert quiet.status_code == 200 and not _session_cookie_set(quiet)
    assert "Vary" not in quiet.headers or "Cookie" not in quiet.headers.get("Vary", "")

