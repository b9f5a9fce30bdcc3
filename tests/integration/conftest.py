"""Fixtures on real PostgreSQL (schema from the Alembic migrations) and real Redis."""
import pytest
from flask_migrate import upgrade
from sqlalchemy import text

from mall import create_app
from mall.config import TestConfig
from mall.extensions import db
from tests.conftest import isolate_requests
from tests.services import create_pg_database, drop_pg_database, redis_url


@pytest.fixture(scope="session")
def pg_database():
    url, name = create_pg_database()
    yield url
    drop_pg_database(name)


@pytest.fixture(scope="session")
def pg_schema(pg_database):
    """Build the schema once per session the way production does: by migrations."""
    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = pg_database
    app = create_app(Config)
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return pg_database


@pytest.fixture
def pg_app(pg_schema, clock):
    """An app on PostgreSQL and Redis locks. Tables are emptied after each test."""
    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = pg_schema
        SQLALCHEMY_ENGINE_OPTIONS = {"pool_size": 30, "max_overflow": 10}
        REDIS_URL = redis_url()

    app = create_app(Config, clock=clock)
    isolate_requests(app)
    app.extensions["mall.redis"].flushdb()  # admission counters and locks of earlier tests
    with app.app_context():
        yield app
        db.session.remove()
        tables = ", ".join(t.name for t in db.metadata.sorted_tables)
        with db.engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        db.engine.dispose()
