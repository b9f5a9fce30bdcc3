import copy
import os
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy import event

from mall import create_app
from mall import settings as mall_settings
from mall.clock import FrozenClock
from mall.config import TestConfig
from mall.extensions import db, limiter
from mall.inventory.admission import NoAdmission
from mall.locks import LocalLocks
from tests.factories import PASSWORD, make_tiers

# Shared fixtures kept in their own modules (the budget tests' shop).
pytest_plugins = ["tests.budget_world"]

START = datetime(2026, 6, 1, 9, 0, tzinfo=timezone.utc)

# Property tests check behaviour, not speed: on a loaded CI machine (two cores) Hypothesis's
# timing health checks and deadlines failed tests that were right. Examples stay as chosen.
settings.register_profile("mall", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("mall")


@pytest.fixture
def clock():
    return FrozenClock(START)


@pytest.fixture(scope="session")
def fast_dir():
    """A scratch folder in RAM (/dev/shm) when the machine has one, else in the temp folder:
    SQLite syncs the disk on every commit, and on tmpfs that costs nothing."""
    shm = Path("/dev/shm")
    folder = Path(tempfile.mkdtemp(prefix="mall-tests-", dir=shm if os.access(shm, os.W_OK) else None))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def schema_file(fast_dir):
    """The schema, built once per session and copied for each test. create_all() (about 50
    tables) per test cost more CPU than most tests, and its disk syncs made the suite wait
    on the disk for minutes; copying a few hundred KB costs about a millisecond."""
    path = fast_dir / "schema.sqlite3"

    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = f"sqlite:///{path}"

    with create_app(Config).app_context():
        db.create_all()
        db.engine.dispose()
    return path


def _no_disk_syncs(dbapi_connection, _record):
    # Test databases are throwaway: a crash may lose them, so skip the syncs.
    dbapi_connection.execute("PRAGMA synchronous = OFF")


@pytest.fixture(scope="session")
def _session_app(fast_dir):
    """One app for the session. create_app() costs about 30 ms (werkzeug compiles every URL
    rule), and a fresh app also means a fresh engine and Jinja environment that compile every
    SQL statement and template again: together about half the suite's CPU time."""
    database = fast_dir / "app" / "test.sqlite3"
    database.parent.mkdir()

    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = f"sqlite:///{database}"

    app = create_app(Config)
    isolate_requests(app)
    with app.app_context():
        event.listen(db.engine, "connect", _no_disk_syncs)
    return app, database, copy.deepcopy(dict(app.config)), dict(app.extensions)


@pytest.fixture
def app(tmp_path, clock, _session_app, schema_file):
    """The fast suite: SQLite and in-process locks. Each test starts as if from a new app: its
    own copy of the schema, the config and extensions as create_app() left them, this test's
    clock, fresh locks, admission and rate-limit counters, and a new app context.
    A copied file rather than a rolled-back outer transaction (the savepoint recipe): tests
    use threads, second connections and app code that commits and rolls back, and the copy
    costs a few milliseconds."""
    app, database, config, extensions = _session_app
    app.config.clear()
    app.config.update(copy.deepcopy(config), MALL_UPLOAD_DIR=str(tmp_path / "uploads"))
    app.extensions.clear()
    app.extensions.update(extensions, **{"mall.clock": clock, "mall.locks": LocalLocks(),
                                         "mall.admission": NoAdmission()})
    limiter.reset()
    with app.app_context():
        db.engine.dispose()  # no connection to the last test's file survives
        for leftover in database.parent.iterdir():  # the file and any journal beside it
            leftover.unlink()
        shutil.copyfile(schema_file, database)
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
def window(app):
    """A 7-day return window (the production default; the suite's TestConfig has 0)."""
    app.config["MALL_RETURN_WINDOW_DAYS"] = 7
    mall_settings.reload(app)
    yield 7
    app.config["MALL_RETURN_WINDOW_DAYS"] = 0
    mall_settings.reload(app)


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
