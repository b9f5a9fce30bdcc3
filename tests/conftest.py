from datetime import datetime, timezone

import pytest

from mall import create_app
from mall.clock import FrozenClock
from mall.config import TestConfig
from mall.extensions import db
from tests.factories import PASSWORD, make_tiers

START = datetime(2026, 6, 1, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def clock():
    return FrozenClock(START)


@pytest.fixture
def app(tmp_path, clock):
    """The fast suite: a throwaway SQLite file and in-process locks."""
    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = f"sqlite:///{tmp_path / 'test.sqlite3'}"
        MALL_UPLOAD_DIR = str(tmp_path / "uploads")

    app = create_app(Config, clock=clock)
    isolate_requests(app)
    with app.app_context():
        db.create_all()
        yield app
        db.session.remove()


def isolate_requests(app):
    """Tests hold one app context open, and Flask reuses it for test-client requests, so
    per-request caches kept on it (the logged-in user, the locale) would leak from one
    request to the next. Clear them as production's fresh context per request would."""
    from flask import g
    from flask_babel import refresh

    @app.before_request
    def fresh_request_caches():
        g.pop("_login_user", None)
        refresh()


@pytest.fixture
def tiers(app):
    tiers = make_tiers()
    db.session.commit()
    return tiers


@pytest.fixture
def client(app):
    return app.test_client()


class AuthActions:
    def __init__(self, client):
        self.client = client

    def login(self, login, password=PASSWORD):
        return self.client.post("/login", data={"identifier": login, "password": password})

    def logout(self):
        return self.client.post("/logout")


@pytest.fixture
def auth(client):
    return AuthActions(client)
