from datetime import datetime
from enum import StrEnum

from flask_login import UserMixin
from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..types import UTCDateTime


class Role(StrEnum):
    MEMBER = "member"
    MERCHANDISER = "merchandiser"
    STORE_STAFF = "store_staff"
    HQ = "hq"


ROLE_VALUES = tuple(r.value for r in Role)


class User(UserMixin, db.Model):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("email IS NOT NULL OR mobile IS NOT NULL", name="has_login"),
        CheckConstraint(f"role IN {ROLE_VALUES!r}", name="known_role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    mobile: Mapped[str | None] = mapped_column(String(20), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(80))
    member_code: Mapped[str] = mapped_column(String(16), unique=True)
    role: Mapped[str] = mapped_column(String(20), default=Role.MEMBER.value)
    locale: Mapped[str | None] = mapped_column(String(10))
    frozen_reason: Mapped[str | None] = mapped_column(String(255))
    frozen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The reward the member is saving up for; shown with a progress bar on the home page.
    target_item_id: Mapped[int | None] = mapped_column(ForeignKey("items.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Part of every session and remember-me cookie (get_id): raising it ends them all
    # (logout, a new password, a freeze), on every device.
    session_version: Mapped[int] = mapped_column(default=1, server_default="1")

    def get_id(self) -> str:
        """Flask-Login's alternative id: a cookie carries the version it was issued under."""
        return f"{self.id}:{self.session_version}"

    @property
    def is_frozen(self) -> bool:
        return self.frozen_at is not None

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return not self.is_frozen

    @property
    def login_name(self) -> str:
        return self.email or self.mobile or ""

    def has_role(self, *roles: str) -> bool:
        return self.role in roles


class AuditEntry(db.Model):
    """Who did what to whom, when and why: every HQ and risk action writes one."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_subject", "subject_type", "subject_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(40))
    subject_type: Mapped[str] = mapped_column(String(20))
    subject_id: Mapped[int | None]
    reason: Mapped[str] = mapped_column(String(255), default="")
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
