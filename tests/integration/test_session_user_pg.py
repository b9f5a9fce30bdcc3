"""The logged-in member read on PostgreSQL's raw prepared path (issue 15,
mall/accounts/session_row.py): the User it builds must behave exactly as one the ORM loaded:
the same values, no statement for any column or for `session.get`, changes flushed and
committed, expired values read again, and ending sessions (logout, freeze) still at once."""
from datetime import timedelta, timezone

import pytest
from flask import g
from sqlalchemy import create_engine, event, inspect, select, text

from mall import rawsql
from mall.accounts import services as accounts
from mall.accounts import session_row
from mall.accounts.models import User
from mall.catalog.models import ItemChange
from mall.extensions import db
from mall.risk import services as risk
from tests.factories import PASSWORD, make_item, make_tiers, make_user

PAGE = "/points/statement"  # any page that needs a logged-in member
COLUMNS = [attr.key for attr in inspect(User).column_attrs]


@pytest.fixture
def seen(pg_app):
    """Every statement sent while the test runs: the engine's and the raw path's."""
    statements = []

    def engine_statement(conn, cursor, statement, *args):
        statements.append(statement)

    def raw_statement(sql, params):
        statements.append(sql)
    event.listen(db.engine, "before_cursor_execute", engine_statement)
    rawsql.observers.append(raw_statement)
    yield statements
    event.remove(db.engine, "before_cursor_execute", engine_statement)
    rawsql.observers.remove(raw_statement)


@pytest.fixture
def member(pg_app, clock):
    """A member with every column set (a pinned target, a language, a mobile number)."""
    make_tiers()
    item = make_item(clock.now())
    user = make_user(clock.now(), login="row@example.com", name="Row Reader")
    user.mobile, user.locale, user.target_item_id = "13800001234", "zh_Hans", item.id
    user.created_at = clock.now() - timedelta(days=3, microseconds=7)
    db.session.commit()
    user_id = user.id
    db.session.remove()
    return user_id


def _orm_values(user_id) -> dict:
    """The row as a separate ORM session loads it: the reference."""
    session = db.session.session_factory()
    try:
        user = session.scalar(select(User).where(User.id == user_id))
        return {key: getattr(user, key) for key in COLUMNS}
    finally:
        session.close()


def _committed(user_id, column):
    """What another connection sees committed."""
    engine = create_engine(db.engine.url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(f"SELECT {column} FROM users WHERE id = :id"), {"id": user_id}).scalar()
    finally:
        engine.dispose()


def test_the_raw_read_builds_the_member_the_orm_would_load(member, seen):
    reference = _orm_values(member)
    # The driver hands timestamps back in the connection's time zone; the User's are UTC.
    db.session.execute(text("SET LOCAL TIME ZONE 'Asia/Shanghai'"))
    seen.clear()
    user = accounts._session_user(member)
    assert seen == [session_row._SQL]  # the raw path ran, once

    assert {key: getattr(user, key) for key in COLUMNS} == reference
    assert user.created_at.tzinfo is timezone.utc and user.created_at == reference["created_at"]
    assert (user.is_frozen, user.role, user.locale, user.login_name) == (False, "member", "zh_Hans", "row@example.com")
    assert user.get_id() == f"{member}:1"
    state = inspect(user)
    assert state.persistent and not state.expired_attributes and not state.modified
    assert user not in db.session.dirty and not db.session.new
    assert db.session.get(User, member) is user  # the identity map's: no second read
    assert accounts._session_user(member) is user
    assert len(seen) == 1  # no column, and no second look-up, cost a statement


def test_a_frozen_member_reads_as_frozen_and_an_unknown_id_as_nobody(member, clock, seen):
    accounts.freeze(member, "chargebacks", now=clock.now())
    db.session.commit()
    db.session.remove()
    user = accounts._session_user(member)
    assert user.is_frozen and user.frozen_reason == "chargebacks" and user.frozen_at == clock.now()
    assert user.session_version == 2 and not user.is_active
    assert accounts.user_for_session(f"{member}:2") is None  # frozen: nobody is logged in
    db.session.remove()
    assert accounts._session_user(member + 1000) is None
    assert accounts.user_for_session(f"{member + 1000}:1") is None


def test_a_change_to_the_built_member_is_flushed_and_committed(member):
    user = accounts._session_user(member)
    user.display_name = "Renamed"
    assert user in db.session.dirty
    db.session.commit()
    assert _committed(member, "display_name") == "Renamed"

    db.session.remove()
    user = accounts._session_user(member)
    accounts.end_sessions(member)  # an UPDATE with a SQL expression: the value is expired...
    db.session.commit()
    assert user.session_version == 2  # ...and read again on the next access
    assert _committed(member, "session_version") == 2


def test_a_relationship_to_the_member_finds_the_built_instance(member, clock, seen):
    item_id = db.session.scalar(select(User.target_item_id).where(User.id == member))
    db.session.add(ItemChange(item_id=item_id, actor_id=member, action="edit", created_at=clock.now()))
    db.session.commit()
    db.session.remove()
    user = accounts._session_user(member)
    change = db.session.scalar(select(ItemChange).where(ItemChange.actor_id == member))
    seen.clear()
    assert change.actor is user  # many-to-one by primary key: the identity map, no statement
    assert seen == []


def test_a_rollback_expires_the_built_member_as_a_loaded_one(member):
    user = accounts._session_user(member)
    user.display_name = "Not kept"
    db.session.rollback()
    assert user.display_name == "Row Reader"
    assert _committed(member, "display_name") == "Row Reader"


# --- through requests: current_user is the built instance ----------------------------------

def _next_request():
    """A real server's next request starts with an empty session and no user cached on the
    context (the tests' app context outlives requests; tests/conftest.py isolate_requests)."""
    db.session.remove()
    g.pop("_login_user", None)


def _log_in(client, login="row@example.com"):
    response = client.post("/login", data={"identifier": login, "password": PASSWORD, "remember": "y"})
    assert response.status_code == 302
    _next_request()


def _refused(response) -> bool:
    return response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_change_to_current_user_in_a_request_is_committed(pg_app, member, seen):
    from flask_login import current_user

    @pg_app.route("/_test/rename", methods=["POST"])
    def rename():
        current_user.display_name = "Renamed in a request"
        return "ok"
    client = pg_app.test_client()
    _log_in(client)
    seen.clear()
    assert client.post("/_test/rename").status_code == 200
    assert session_row._SQL in seen  # current_user came from the raw read
    assert _committed(member, "display_name") == "Renamed in a request"


def test_set_locale_changes_the_logged_in_members_row(pg_app, member, seen):
    client = pg_app.test_client()
    _log_in(client)
    seen.clear()
    assert client.post("/locale", data={"locale": "en"}).status_code == 302
    assert session_row._SQL in seen
    assert _committed(member, "locale") == "en"


def test_logout_ends_the_sessions_on_the_members_other_devices(pg_app, member):
    phone, tablet = pg_app.test_client(), pg_app.test_client()
    _log_in(phone)
    _log_in(tablet)
    assert tablet.get(PAGE).status_code == 200
    _next_request()
    assert phone.post("/logout").status_code == 302
    _next_request()
    assert _refused(tablet.get(PAGE))
    assert _committed(member, "session_version") == 2


def test_a_freeze_ends_the_members_session_at_once(pg_app, member, clock):
    client = pg_app.test_client()
    _log_in(client)
    assert client.get(PAGE).status_code == 200
    _next_request()
    risk.freeze_member(member, "points farming", actor_id=None, now=clock.now())
    db.session.commit()
    _next_request()
    assert _refused(client.get(PAGE))
