"""HQ's reporting reads on a PostgreSQL replica: MALL_ANALYTICS_DATABASE_URL.

The cost dashboard scans the ledger's facts; on a busy primary those scans compete with
checkouts. With MALL_ANALYTICS_DATABASE_URL set (a streaming replica of DATABASE_URL),
`analytics_session()` is a read-only session on it, and mall/hq/analytics.py runs its
dashboard reads there; every write (the roll-up itself) and every read that must see a
write just made (budget pages) stays on `db.session`. A replica lags by a moment: its
facts are consistent with themselves (the rolled-up days and the live days are read from
the same snapshot), just that moment old. Unset: the same session as everything else.
"""
from flask import Flask, current_app
from flask.globals import app_ctx
from sqlalchemy import create_engine
from sqlalchemy.orm import Session, scoped_session, sessionmaker

from .extensions import db

KEY = "mall.analytics_session"


def init_app(app: Flask) -> None:
    url = app.config.get("MALL_ANALYTICS_DATABASE_URL")
    if not url:
        return
    # Read-only at the database too (SET TRANSACTION READ ONLY on each transaction), so a
    # mistaken write through this session fails here as it would on a hot standby.
    engine = create_engine(url, pool_size=5, max_overflow=5, pool_recycle=1800) \
        .execution_options(postgresql_readonly=True)
    # One session per app context, like Flask-SQLAlchemy's db.session, removed with it.
    sessions = scoped_session(sessionmaker(bind=engine), scopefunc=lambda: id(app_ctx._get_current_object()))
    app.extensions[KEY] = sessions

    @app.teardown_appcontext
    def _remove(_exc):
        sessions.remove()


def analytics_session() -> Session:
    """The session HQ's reporting reads use: the replica's when configured, else db.session."""
    sessions = current_app.extensions.get(KEY)
    return sessions() if sessions is not None else db.session()


def analytics_engine():
    sessions = current_app.extensions.get(KEY)
    return sessions.get_bind() if sessions is not None else db.engine
