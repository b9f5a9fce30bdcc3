"""PostgreSQL: the logged-in member's row read on the raw prepared path (issue 15).

Why: every logged-in request reads the member's row (it carries the session version and
the freeze, so it can't be cached). A primary-key lookup costs the database next to nothing,
but through the ORM (statement cache look-up, result processing, building the User) it cost
about 0.64 ms of CPU per checkout in bench/profile_checkout.py --breakdown; this way about
0.38 ms, most of it the driver's BEGIN and round trip, which any first statement pays.

The row comes through mall/rawsql.py's prepared statement and the User built from it joins
the session as already loaded (make_transient_to_detached, as checkout/order_rows.py does for
an Order): no flush, no re-read, in the identity map, so `session.get(User, id)` finds it, a
change to it is flushed as an UPDATE, and an expired attribute is read again as on any
loaded instance (tests/integration/test_session_user_pg.py). SQLite keeps the ORM select.

Every mapped column is selected (a later read of any of them must not cost a statement), and
each value goes through its column type's result processor, as the ORM's loading would
(UTCDateTime: timezone-aware UTC).
"""
from sqlalchemy import inspect
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import instance_dict

from ..rawsql import execute, flush_pending
from .models import User

_ATTRIBUTES = tuple((attr.key, attr.columns[0]) for attr in inspect(User).column_attrs)
_SQL = (f"SELECT {', '.join(column.name for _, column in _ATTRIBUTES)} "
        f"FROM {User.__table__.name} WHERE id = %(user_id)s")
_processors: dict[str, tuple] = {}  # per dialect name: each column's result processor or None


def _processors_for(dialect) -> tuple:
    found = _processors.get(dialect.name)
    if found is None:
        found = _processors[dialect.name] = tuple(column.type.result_processor(dialect, None)
                                                 for _, column in _ATTRIBUTES)
    return found


def load(session, user_id: int, dialect) -> User | None:
    """The user with this id, read by one prepared statement and attached to `session` (the
    request's, on PostgreSQL: `dialect` is its bind's) as loaded; None when there is no such
    row. The caller has checked the identity map."""
    if session.autoflush:
        flush_pending()  # as the ORM select's autoflush would
    row = execute(_SQL, {"user_id": user_id}).fetchone()
    if row is None:
        return None
    processors = _processors_for(dialect)
    user = User()
    # Filled as the ORM's loader fills an instance (straight into its dict); then
    # make_transient_to_detached gives it its identity key and marks every value committed.
    instance_dict(user).update({key: process(value) if process is not None else value
                                for (key, _), process, value in zip(_ATTRIBUTES, processors, row)})
    make_transient_to_detached(user)
    session.add(user)
    return user
