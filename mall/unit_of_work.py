"""One commit point per request, CLI command and job, and work that runs only after it.

A unit of work commits when no exception escaped it and rolls back when one did, whatever
the HTTP status. Services flush and never commit; a service that refuses raises a domain
error before it writes (or writes inside a savepoint that the error rolls back, or, issue
15's checkout fast path, calls `rollback()` itself, which it does only when `untouched()`
said the transaction held nothing else), so a refusal always means nothing was written. A
service that must record something and still say no returns an outcome instead of raising.

Side effects outside the database (Redis give-backs, email, Stripe calls) are registered
with `after_commit()` while the transaction is open and run once it has committed; a
rollback, or a savepoint rolled back around them, drops them. Jobs that commit in batches
call `commit()` per batch, so each batch's after-commit work runs with it.
"""
import logging
from contextlib import contextmanager
from functools import partial

from flask import Flask
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from .extensions import db

log = logging.getLogger(__name__)

_PENDING = "mall.after_commit"   # [(transaction it was registered in, callable)]
_READY = "mall.after_commit.ready"
_WROTE = "mall.wrote"            # transactions that wrote something


def after_commit(fn, *args, **kwargs) -> None:
    """Run fn(*args, **kwargs) once the current transaction commits; never if it rolls back."""
    session = db.session()
    session.info.setdefault(_PENDING, []).append((_innermost(session), partial(fn, *args, **kwargs)))


def wrote() -> bool:
    """True when the open transaction holds writes that a commit would keep."""
    return bool(db.session().info.get(_WROTE))


def note_write() -> None:
    """Count a write the ORM hooks can't see: a SELECT whose data-modifying CTEs wrote rows
    (issue 15's one-statement writes), so that a refusal after it is still caught."""
    session = db.session()
    session.info.setdefault(_WROTE, set()).add(_innermost(session))


def untouched() -> bool:
    """True when rolling the open transaction back would lose nothing but its reads and
    locks: no writes, nothing pending in the session, no after-commit work, no savepoint.
    Issue 15's checkout fast path writes without a savepoint only then, and a refusal after
    its write rolls everything back (checkout/orders.py)."""
    session = db.session()
    return not (session.info.get(_WROTE) or session.info.get(_PENDING) or session.new or session.dirty
                or session.deleted or session.in_nested_transaction())


def commit() -> None:
    """Commit, then run the after-commit work the transaction registered."""
    db.session.commit()
    _run_ready(db.session())


def rollback() -> None:
    db.session.rollback()
    db.session().info.pop(_READY, None)


@contextmanager
def unit():
    """A CLI command's or a job's unit of work: commit on success, roll back on any error."""
    try:
        yield
    except BaseException:
        rollback()
        raise
    commit()


def init_app(app: Flask) -> None:
    """Each request is one unit of work. Error handlers that answer an escaped exception
    (mall/__init__.py's error pages) call `rollback()` first, so `finish` only commits work
    whose view returned normally; a refusal the view rendered has written nothing."""
    @app.after_request
    def finish(response):
        if response.status_code >= 400 and app.config.get("MALL_STRICT_REFUSALS") and wrote():
            # Tests run strict: a refusal that answers after a service wrote is a service
            # that should have refused before writing (or returned an outcome).
            rollback()
            raise RuntimeError(f"{response.status_code} answered after writes; a refusal must write nothing")
        commit()
        return response

    @app.teardown_request
    def abandon(exc):
        if exc is not None:  # an exception no handler answered (tests propagate them)
            rollback()


# --- bookkeeping on the session's transactions ---------------------------------------------

def _innermost(session: Session) -> SessionTransaction | None:
    return session.get_nested_transaction() or session.get_transaction()


def _chain(transaction: SessionTransaction | None):
    while transaction is not None:
        yield transaction
        transaction = transaction.parent


@event.listens_for(Session, "after_soft_rollback")
def _forget_rolled_back(session: Session, previous_transaction: SessionTransaction) -> None:
    """A rolled-back transaction (or savepoint) takes its after-commit work and writes with it."""
    if previous_transaction.parent is None:
        _forget_all(session)
        return
    pending = session.info.get(_PENDING)
    if pending:
        session.info[_PENDING] = [(t, fn) for t, fn in pending if previous_transaction not in _chain(t)]
    wrote = session.info.get(_WROTE)
    if wrote:
        wrote.difference_update(t for t in list(wrote) if previous_transaction in _chain(t))


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    # No SQL may run inside this event: the work is queued and run by commit().
    session.info.setdefault(_READY, []).extend(fn for _, fn in session.info.pop(_PENDING, []))
    session.info.pop(_WROTE, None)


@event.listens_for(Session, "after_transaction_end")
def _ended(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # committed (work already queued), rolled back or closed
        _forget_all(session)


def _forget_all(session: Session) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop(_WROTE, None)


@event.listens_for(Session, "after_flush")
def _flushed(session: Session, flush_context) -> None:
    session.info.setdefault(_WROTE, set()).add(_innermost(session))


@event.listens_for(Session, "do_orm_execute")
def _executed(state):
    if state.is_insert or state.is_update or state.is_delete:
        result = state.invoke_statement()
        if hasattr(result, "rowcount"):
            changed = state.is_insert or result.rowcount != 0
        else:  # RETURNING: buffer the (few) rows to see whether any matched
            frozen = result.freeze()
            changed, result = bool(frozen.data), frozen()
        if changed:  # a conditional UPDATE that matched nothing wrote nothing
            state.session.info.setdefault(_WROTE, set()).add(_innermost(state.session))
        return result
    return None


def _run_ready(session: Session) -> None:
    ready = session.info.pop(_READY, [])
    for fn in ready:
        try:
            fn()
        except Exception:  # the data is committed; a failed side effect is logged, not undone
            log.exception("after-commit work failed: %r", fn)
            db.session.rollback()
