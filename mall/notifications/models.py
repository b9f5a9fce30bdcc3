"""Notifications: one row per (member, kind, key), in the in-app inbox and, through an
outbox state, by email.

UNIQUE(member_id, kind, key) makes `notify` idempotent: a job that runs twice, or two
workers racing, create one row, so the member gets one message and one email.
"""
from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..types import UTCDateTime


class NotificationKind(StrEnum):
    EXPIRY_REMINDER = "expiry_reminder"
    TIER_CHANGE = "tier_change"
    PRESALE = "presale"            # presale stock arrived, or a shortfall offer
    ORDER_STATUS = "order_status"
    APPEAL = "appeal"              # HQ resolved a member's appeal (mall/appeals)


KINDS = tuple(k.value for k in NotificationKind)


class EmailState(StrEnum):
    PENDING = "pending"        # waiting for the delivery job (the outbox)
    SENDING = "sending"        # claimed by one delivery run; never claimed again
    SENT = "sent"
    NO_ADDRESS = "no_address"  # the member logs in with a mobile number only
    OPTED_OUT = "opted_out"
    FAILED = "failed"          # gave up after repeated SMTP errors


EMAIL_STATES = tuple(s.value for s in EmailState)


class Notification(db.Model):
    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("member_id", "kind", "key", name="one_notification_per_key"),
        CheckConstraint(f"kind IN {KINDS!r}", name="known_kind"),
        CheckConstraint(f"email_state IN {EMAIL_STATES!r}", name="known_email_state"),
        Index("ix_notifications_member_created", "member_id", "created_at"),
        Index("ix_notifications_email_state", "email_state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    key: Mapped[str] = mapped_column(String(120))
    # The facts the message is rendered from, in the reader's language at read time.
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    # Opted-out kinds are recorded (so opting back in never replays old news) but not shown.
    visible: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    email_state: Mapped[str] = mapped_column(String(12), default=EmailState.PENDING.value)
    email_attempts: Mapped[int] = mapped_column(default=0)
    emailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class NotificationOptOut(db.Model):
    """A row means: send this member nothing of this kind (neither inbox nor email)."""

    __tablename__ = "notification_opt_outs"
    __table_args__ = (CheckConstraint(f"kind IN {KINDS!r}", name="known_kind"),)

    member_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
