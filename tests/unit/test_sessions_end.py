"""Sessions that end (issue 11, item 3): logout, a new password and a freeze end every
session and remember-me cookie of the account. Each test copies the cookies a browser holds,
does the thing, and replays the copies from another client, as someone who took them would."""
import re

from mall.accounts import services as accounts
from mall.extensions import db
from mall.risk import services as risk
from tests.factories import PASSWORD, make_user

PAGE = "/points/statement"  # any page that needs a logged-in member


def _log_in(client, login, password=PASSWORD):
    response = client.post("/login", data={"identifier": login, "password": password, "remember": "y"})
    assert response.status_code == 302
    return {name: client.get_cookie(name).value for name in ("session", "remember_token")}


def _replay(app, name, value):
    """A fresh browser holding only the copied cookie."""
    thief = app.test_client()
    thief.set_cookie(name, value)
    return thief.get(PAGE)


def _works(app, cookies) -> dict[str, bool]:
    return {name: _replay(app, name, value).status_code == 200 for name, value in cookies.items()}


def _refused(response) -> bool:
    return response.status_code == 302 and "/login" in response.headers["Location"]


def test_copied_session_and_remember_cookies_work_until_logout(app, client, tiers, clock):
    make_user(clock.now(), login="leaver@example.com")
    db.session.commit()
    cookies = _log_in(client, "leaver@example.com")
    assert _works(app, cookies) == {"session": True, "remember_token": True}

    assert client.post("/logout").status_code == 302
    assert _works(app, cookies) == {"session": False, "remember_token": False}
    assert _refused(_replay(app, "session", cookies["session"]))
    assert _refused(client.get(PAGE))

    # Logging in again works, and so do the new cookies.
    assert _works(app, _log_in(client, "leaver@example.com")) == {"session": True, "remember_token": True}


def test_logout_ends_the_sessions_on_the_accounts_other_devices(app, tiers, clock):
    make_user(clock.now(), login="two-phones@example.com")
    db.session.commit()
    phone, tablet = app.test_client(), app.test_client()
    _log_in(phone, "two-phones@example.com")
    _log_in(tablet, "two-phones@example.com")
    phone.post("/logout")
    assert _refused(tablet.get(PAGE))


def test_a_new_password_ends_every_session_taken_before_it(app, client, tiers, clock, monkeypatch):
    from mall.notifications import mail
    sent = []
    monkeypatch.setattr(mail, "mailer_for", lambda config: type("M", (), {"send": lambda self, m: sent.append(m)})())
    make_user(clock.now(), login="stolen@example.com")
    db.session.commit()
    cookies = _log_in(client, "stolen@example.com")  # the phone that was stolen

    owner = app.test_client()
    owner.post("/password/forgot", data={"identifier": "stolen@example.com"})
    link = re.search(r"(/password/reset/\S+)", sent[0].get_content()).group(1)
    assert owner.post(link, data={"password": "a-new-password-77", "confirm": "a-new-password-77"}).status_code == 302

    assert _works(app, cookies) == {"session": False, "remember_token": False}
    assert _refused(client.get(PAGE))
    assert _works(app, _log_in(owner, "stolen@example.com", "a-new-password-77")) == {
        "session": True, "remember_token": True}


def test_the_password_service_ends_sessions_however_it_is_called(app, client, tiers, clock):
    user = make_user(clock.now(), login="changer@example.com")
    db.session.commit()
    cookies = _log_in(client, "changer@example.com")
    accounts.set_password(user, "another-pass-88")
    db.session.commit()
    assert _works(app, cookies) == {"session": False, "remember_token": False}


def test_a_freeze_ends_every_session_and_they_stay_ended_after_the_unfreeze(app, client, tiers, clock):
    user = make_user(clock.now(), login="farmer@example.com")
    db.session.commit()
    cookies = _log_in(client, "farmer@example.com")
    risk.freeze_member(user.id, "points farming", actor_id=None, now=clock.now())
    db.session.commit()
    assert _works(app, cookies) == {"session": False, "remember_token": False}

    risk.unfreeze_member(user.id, "cleared", actor_id=None, now=clock.now())
    db.session.commit()
    assert _works(app, cookies) == {"session": False, "remember_token": False}
    assert _works(app, _log_in(app.test_client(), "farmer@example.com")) == {"session": True, "remember_token": True}


def test_mall_freeze_from_the_command_line_ends_every_session(app, client, tiers, clock):
    make_user(clock.now(), login="cli-cold@example.com")
    db.session.commit()
    cookies = _log_in(client, "cli-cold@example.com")
    result = app.test_cli_runner().invoke(args=["mall", "freeze", "cli-cold@example.com", "--reason", "chargebacks"])
    assert result.exit_code == 0, result.output
    assert _works(app, cookies) == {"session": False, "remember_token": False}


def test_ending_one_accounts_sessions_leaves_the_others_logged_in(app, tiers, clock):
    make_user(clock.now(), login="a@example.com")
    make_user(clock.now(), login="b@example.com")
    db.session.commit()
    a, b = app.test_client(), app.test_client()
    _log_in(a, "a@example.com")
    b_cookies = _log_in(b, "b@example.com")
    a.post("/logout")
    assert _works(app, b_cookies) == {"session": True, "remember_token": True}
    assert b.get(PAGE).status_code == 200


def test_a_cookie_from_before_session_versions_logs_nobody_in(app, tiers, clock):
    """Cookies issued before the migration carry a bare user id: refused, not trusted."""
    user = make_user(clock.now(), login="old-cookie@example.com")
    db.session.commit()
    signer = app.session_interface.get_signing_serializer(app)
    old = app.test_client()
    old.set_cookie("session", signer.dumps({"_user_id": str(user.id), "_fresh": True, "_id": "x"}))
    assert _refused(old.get(PAGE))
    current = app.test_client()
    current.set_cookie("session", signer.dumps({"_user_id": user.get_id(), "_fresh": True, "_id": "x"}))
    assert current.get(PAGE).status_code == 200
