"""PostgreSQL statements run on the session's own psycopg connection (issue 15's fast path).

Why: a successful checkout's Python cost was mostly SQLAlchemy building, cache-keying and
compiling statements and wrapping results, not the database. Measured on this machine, one
prepared statement through `session.execute(text(...))` costs about 0.19 ms of CPU, the same
statement through a raw psycopg cursor with `prepare=True` about 0.016 ms. The hot path's
statements are therefore plain SQL strings (psycopg `%(name)s` parameters), written once at
import time and prepared by the server on first use.

They run on the connection of the session's transaction, so savepoints, commit and rollback
are the unit of work's as usual. Two things the ORM would otherwise do are the caller's job:
- pending ORM changes are not autoflushed first (call `flush_pending()` where order matters);
- writes are invisible to the session's bookkeeping: call `note_write()` after one.
A database error is raised as SQLAlchemy's exception for it (a constraint violation as
IntegrityError), so `insert_once` and the replay handling treat it exactly as an ORM insert's.
"""
import psycopg
from sqlalchemy.exc import DBAPIError

from .extensions import db


# Callables told each statement before it runs (sql, params): the statement-count test and
# bench/profile_checkout.py count these beside the engine's own (which never sees them).
observers: list = []


def is_postgresql() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def execute(sql: str, params: dict | None = None):
    """Run `sql` (prepared on the server) in the session's transaction; returns the cursor."""
    connection = db.session.connection().connection.driver_connection
    cursor = connection.cursor()
    for observe in observers:
        observe(sql, params)
    try:
        return cursor.execute(sql, params, prepare=True)
    except psycopg.Error as exc:
        raise DBAPIError.instance(sql, params, exc, psycopg.Error) from exc


def flush_pending() -> None:
    """Flush ORM changes waiting in the session (a raw statement does not autoflush them)."""
    session = db.session()
    if session.new or session.dirty or session.deleted:
        session.flush()
