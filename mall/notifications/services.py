"""The inbox and the one way to tell a member something: `notify`.

notify() only writes a row in the caller's transaction. The in-app message appears when
that transaction commits, and the email is sent afterwards by the delivery job (the row's
email_state is the outbox), so a rolled-back order never sends a message and slow SMTP
never sits inside a locked transaction.
"""
import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, exists, func, select
from sqlalchemy.dialects import postgresql, sqlite

from ..accounts.models import User
from ..errors import NotFound
from ..extensions import db
from ..pagination import paginate
from ..rawsql import execute, flush_pending, is_postgresql
from ..unit_of_work import note_write
from .models import KINDS, EmailState, Notification, NotificationOptOut


def find_notification(member_id: int, kind: str, key: str) -> Notification | None:
    return db.session.scalar(select(Notification).where(
        Notification.member_id == member_id, Notification.kind == kind, Notification.key == key))


def notify(member_id: int, kind: str, key: str, params: dict, now: datetime) -> Notification | None:
    """Tell a member something, once per (member, kind, key): calling it again with the same
    key returns the first notification and sends nothing more. A kind the member opted out
    of is recorded but neither shown nor emailed (so opting in later never replays it).
    Members without an email address get the in-app message only. Returns None for an
    unknown member."""
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    member = db.session.get(User, member_id)
    if member is None:
        return None
    # One round trip: the opt-out is read by the INSERT itself, and the UNIQUE (member, kind,
    # key) constraint skips a repeat (sent earlier, or a moment ago by another worker), which
    # then answers with the first notification.
    reachable = EmailState.PENDING if member.email else EmailState.NO_ADDRESS
    if is_postgresql():
        return _notify_pg(member_id, kind, key, params, now, reachable)
    opted_out = exists().where(NotificationOptOut.member_id == member_id, NotificationOptOut.kind == kind)
    insert_ = postgresql.insert if db.session.get_bind().dialect.name == "postgresql" else sqlite.insert
    row = db.session.scalars(
        insert_(Notification).values(member_id=member_id, kind=kind, key=key, params=params or {},
                                     visible=~opted_out, created_at=now,
                                     email_state=case((opted_out, EmailState.OPTED_OUT.value), else_=reachable.value))
        .on_conflict_do_nothing(index_elements=["member_id", "kind", "key"]).returning(Notification)).first()
    return row if row is not None else find_notification(member_id, kind, key)


# PostgreSQL: the same INSERT as one prepared SQL string (issue 15). Every checkout that
# sells at once tells the member, and building the ORM statement above (an EXISTS subquery,
# a CASE, ON CONFLICT) cost more CPU than the rest of the notification. Every column is
# given, as the ORM's insert applies the Python-side defaults.
_NOTIFY_SQL = """
INSERT INTO notifications (member_id, kind, key, params, visible, created_at, read_at, email_state,
                           email_attempts, emailed_at)
SELECT %(member_id)s, %(kind)s, %(key)s, CAST(%(params)s AS JSON), NOT opted_out, %(now)s, NULL,
       CASE WHEN opted_out THEN 'opted_out' ELSE %(reachable)s END, 0, NULL
FROM (SELECT EXISTS (SELECT 1 FROM notification_opt_outs
                     WHERE member_id = %(member_id)s AND kind = %(kind)s) AS opted_out) AS o
ON CONFLICT (member_id, kind, key) DO NOTHING
RETURNING id, visible, email_state
"""


def _notify_pg(member_id: int, kind: str, key: str, params: dict, now: datetime,
               reachable: EmailState) -> Notification | None:
    params = params or {}
    flush_pending()  # as the ORM's autoflush would
    row = execute(_NOTIFY_SQL, {"member_id": member_id, "kind": kind, "key": key, "params": json.dumps(params),
                                "now": now, "reachable": reachable.value}).fetchone()
    if row is None:  # a repeat: the first notification answers
        return find_notification(member_id, kind, key)
    note_write()
    # What the row holds, without loading it again; not added to the session (nothing on
    # the checkout path reads it back, and a reader gets it from the database).
    return Notification(id=row[0], member_id=member_id, kind=kind, key=key, params=params, visible=row[1],
                        created_at=now, read_at=None, email_state=row[2], email_attempts=0, emailed_at=None)


def _visible(member_id: int):
    return (Notification.member_id == member_id) & Notification.visible.is_(True)


def unread_count(member_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(Notification)
                             .where(_visible(member_id), Notification.read_at.is_(None)))


@dataclass(frozen=True)
class InboxPage:
    notifications: list[Notification]
    page: int
    pages: int
    total: int
    unread: int


def inbox(member_id: int, *, page: int = 1, per_page: int = 20) -> InboxPage:
    p = paginate(select(Notification).where(_visible(member_id))
                 .order_by(Notification.created_at.desc(), Notification.id.desc()), page, per_page)
    return InboxPage(p.items, p.page, p.pages, p.total, unread_count(member_id))


def read_notification(member_id: int, notification_id: int, now: datetime) -> Notification:
    """Open one message and mark it read. Another member's message is NotFound."""
    row = db.session.get(Notification, notification_id)
    if row is None or row.member_id != member_id or not row.visible:
        raise NotFound()
    if row.read_at is None:
        row.read_at = now
        db.session.flush()
    return row


def opted_out_kinds(member_id: int) -> set[str]:
    return set(db.session.scalars(select(NotificationOptOut.kind).where(NotificationOptOut.member_id == member_id)))


def set_preferences(member_id: int, wanted_kinds: set[str], now: datetime) -> set[str]:
    """Opt out of every kind not in `wanted_kinds`; returns the kinds now opted out."""
    wanted = {k for k in wanted_kinds if k in KINDS}
    current = opted_out_kinds(member_id)
    for kind in KINDS:
        if kind in wanted and kind in current:
            db.session.delete(db.session.get(NotificationOptOut, (member_id, kind)))
        elif kind not in wanted and kind not in current:
            db.session.add(NotificationOptOut(member_id=member_id, kind=kind, created_at=now))
    db.session.flush()
    return set(KINDS) - wanted
