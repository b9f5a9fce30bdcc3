"""Registration, login, freezing: what the person at the form sees, and what is stored."""
from sqlalchemy import func, select

from mall.accounts.models import User
from mall.accounts.services import freeze
from mall.extensions import db
from tests.factories import PASSWORD, make_user


def _users():
    return db.session.scalar(select(func.count()).select_from(User))


def test_register_with_email_logs_in_and_opens_a_points_account(client, tiers):
    response = client.post("/register", data={"display_name": "Mei", "identifier": "Mei@Example.com",
                                               "password": "longenough1", "confirm": "longenough1"})
    assert response.status_code == 302
    user = db.session.scalar(select(User))
    assert user.email == "mei@example.com" and user.role == "member"
    assert user.password_hash.startswith("$argon2id$") and "longenough1" not in user.password_hash
    assert "Hello, Mei" in client.get("/").get_data(as_text=True)


def test_register_with_a_mobile_number_then_log_in_with_it(client, tiers):
    client.post("/register", data={"display_name": "Li", "identifier": "138 0000 1234",
                                   "password": "longenough1", "confirm": "longenough1"})
    client.post("/logout")
    response = client.post("/login", data={"identifier": "13800001234", "password": "longenough1"})
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_bad_registrations_say_what_is_wrong_next_to_the_field_and_write_nothing(client, tiers, clock):
    make_user(clock.now(), login="taken@example.com")
    db.session.commit()
    cases = [
        ({"identifier": "taken@example.com"}, "already exists"),
        ({"identifier": "not an email"}, "Enter an email address or a mobile number"),
        ({"password": "short1", "confirm": "short1"}, "at least 10 characters"),
        ({"password": "onlyletters", "confirm": "onlyletters"}, "mixing letters and digits"),
        ({"confirm": "different12"}, "The two passwords are different."),
        ({"display_name": ""}, "Tell us what to call you."),
    ]
    for change, message in cases:
        form = {"display_name": "X", "identifier": "new@example.com", "password": "longenough1",
                "confirm": "longenough1", **change}
        response = client.post("/register", data=form)
        page = response.get_data(as_text=True)
        assert response.status_code == 422 and message in page, (change, page[:200])
        assert 'aria-invalid="true"' in page or "banner" in page
    assert _users() == 1


def test_wrong_password_and_unknown_account_get_the_same_answer(client, tiers, clock):
    make_user(clock.now(), login="real@example.com")
    db.session.commit()
    wrong = client.post("/login", data={"identifier": "real@example.com", "password": "nope-nope-1"})
    unknown = client.post("/login", data={"identifier": "ghost@example.com", "password": "nope-nope-1"})
    assert wrong.status_code == unknown.status_code == 422
    message = "That email/mobile and password don&#39;t match."
    assert message in wrong.get_data(as_text=True) and message in unknown.get_data(as_text=True)


def test_a_frozen_account_is_refused_with_its_reason(client, tiers, clock):
    user = make_user(clock.now(), login="cold@example.com")
    freeze(user.id, "suspected points farming", now=clock.now())
    db.session.commit()
    response = client.post("/login", data={"identifier": "cold@example.com", "password": PASSWORD})
    assert response.status_code == 422
    assert "Your account is frozen: suspected points farming." in response.get_data(as_text=True)


def test_freezing_ends_an_open_session_at_the_next_request(client, tiers, clock):
    user = make_user(clock.now(), login="soon@example.com")
    db.session.commit()
    client.post("/login", data={"identifier": "soon@example.com", "password": PASSWORD})
    assert client.get("/points/statement").status_code == 200
    freeze(user.id, "chargeback", now=clock.now())
    db.session.commit()
    assert "/login" in client.get("/points/statement").headers["Location"]


def test_next_only_leads_to_pages_on_this_site(client, tiers, clock):
    make_user(clock.now(), login="nav@example.com")
    db.session.commit()
    ok = client.post("/login", data={"identifier": "nav@example.com", "password": PASSWORD, "next": "/orders"})
    assert ok.headers["Location"] == "/orders"
    client.post("/logout")
    evil = client.post("/login", data={"identifier": "nav@example.com", "password": PASSWORD,
                                       "next": "https://evil.example.com/"})
    assert evil.headers["Location"] == "/"
    client.post("/logout")
    sneaky = client.post("/login", data={"identifier": "nav@example.com", "password": PASSWORD, "next": "//evil.example.com"})
    assert sneaky.headers["Location"] == "/"


def test_secret_key_is_required_outside_development(monkeypatch):
    import pytest
    from mall import create_app
    from mall.config import Config

    class Production(Config):
        SECRET_KEY = None
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(Production)
