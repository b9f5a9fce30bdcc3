"""The email delivery job: sends what `notify` left in the outbox, at most once each.

Each row is claimed with one conditional UPDATE (pending -> sending) and committed before
the SMTP call, so two job runs (or two workers) never both send it. A connection error
puts the row back to pending for the next run (up to MAX_ATTEMPTS); a crash between the
send and the final commit leaves it in "sending", which is never retried: a member would
rather miss a reminder than get it twice. The job commits by itself; run it outside any
request transaction (`mall jobs`).
"""
import html
import logging
import smtplib
from datetime import datetime

from flask import render_template
from flask_babel import force_locale
from sqlalchemy import select, update

from ..accounts.models import User
from ..extensions import db
from ..unit_of_work import commit
from .mail import build_message
from .models import EmailState, Notification

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5


def render_email(notification: Notification, member: User) -> tuple[str, str]:
    """(subject, body) in the member's language."""
    with force_locale(member.locale or "en"):
        subject = render_template("notifications/email_subject.txt", n=notification, member=member).strip()
        body = render_template("notifications/email.txt", n=notification, member=member)
    # The wording comes from macros shared with the HTML inbox, which escape for HTML;
    # a plain-text email wants "Chef's knife", not "Chef&#39;s knife".
    return html.unescape(subject), html.unescape(body)


def _claim(notification_id: int) -> bool:
    claimed = db.session.execute(
        update(Notification).where(Notification.id == notification_id,
                                   Notification.email_state == EmailState.PENDING.value)
        .values(email_state=EmailState.SENDING.value, email_attempts=Notification.email_attempts + 1)
        .execution_options(synchronize_session=False)).rowcount
    commit()  # batch: claimed before the send, so a crash never sends one email twice
    return claimed == 1


def _finish(notification_id: int, state: str, now: datetime | None = None) -> None:
    db.session.execute(update(Notification).where(Notification.id == notification_id)
                       .values(email_state=state, emailed_at=now)
                       .execution_options(synchronize_session=False))
    commit()


def deliver_pending(now: datetime, mailer, *, batch: int = 100) -> int:
    """Send up to `batch` pending emails; returns how many were sent."""
    ids = db.session.scalars(select(Notification.id).where(
        Notification.email_state == EmailState.PENDING.value).order_by(Notification.id).limit(batch)).all()
    sent = 0
    for notification_id in ids:
        if not _claim(notification_id):
            continue  # another run took it
        notification = db.session.get(Notification, notification_id)
        member = db.session.get(User, notification.member_id)
        if not member.email:
            _finish(notification_id, EmailState.NO_ADDRESS.value)
            continue
        subject, body = render_email(notification, member)
        try:
            mailer.send(build_message(member.email, subject, body, message_id_key=f"n{notification_id}"))
        except (smtplib.SMTPException, OSError) as exc:
            log.warning("email for notification %s failed: %s", notification_id, exc)
            retry = notification.email_attempts < MAX_ATTEMPTS
            _finish(notification_id, EmailState.PENDING.value if retry else EmailState.FAILED.value)
            continue
        _finish(notification_id, EmailState.SENT.value, now)
        sent += 1
    return sent
