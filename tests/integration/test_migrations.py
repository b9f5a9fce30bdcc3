"""The schema as production builds it: Alembic migrations on PostgreSQL."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from mall import create_app
from mall.config import TestConfig
from mall.extensions import db
from tests.services import create_pg_database, drop_pg_database


def _app_on(url):
    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = url
    return create_app(Config)


def test_upgrade_from_empty_matches_the_models_and_downgrade_removes_everything():
    url, name = create_pg_database()
    try:
        app = _app_on(url)
        with app.app_context():
            upgrade()
            tables = set(inspect(db.engine).get_table_names())
            assert {"users", "ledger_entries", "point_lots", "points_accounts", "items"} <= tables
            with db.engine.connect() as conn:
                diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
            assert diff == [], f"models and migrations disagree: {diff}"
            downgrade(revision="base")
            assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
            upgrade()  # and back up again, as a redeploy would
            assert "ledger_entries" in inspect(db.engine).get_table_names()
            db.engine.dispose()
    finally:
        drop_pg_database(name)


def test_schema_refuses_a_negative_balance_even_without_the_service():
    import pytest
    from sqlalchemy.exc import IntegrityError
    from sqlalchemy import text
    url, name = create_pg_database()
    try:
        app = _app_on(url)
        with app.app_context():
            upgrade()
            with pytest.raises(IntegrityError):
                with db.engine.begin() as conn:
                    conn.execute(text(
                        "INSERT INTO users (email, password_hash, display_name, member_code, role, created_at)"
                        " VALUES ('x@example.com', 'h', 'X', 'MX', 'member', now())"))
                    conn.execute(text("INSERT INTO points_accounts (member_id, balance, updated_at)"
                                      " SELECT id, -1, now() FROM users"))
            db.engine.dispose()
    finally:
        drop_pg_database(name)
