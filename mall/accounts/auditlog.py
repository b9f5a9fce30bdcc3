"""The audit log: every HQ and risk action (budgets, grants, reviews, freezes) writes one line."""
from datetime import datetime

from sqlalchemy import select

from .models import User
from ..extensions import db
from ..pagination import paginate
from .models import AuditEntry


def audit(actor_id: int | None, action: str, subject_type: str, subject_id: int | None, reason: str,
          now: datetime, **detail) -> AuditEntry:
    entry = AuditEntry(actor_id=actor_id, action=action, subject_type=subject_type, subject_id=subject_id,
                       reason=(reason or "").strip()[:255], detail=detail, created_at=now)
    db.session.add(entry)
    db.session.flush()
    return entry


def audit_page(page: int = 1, per_page: int = 50, *, subject_type: str | None = None,
               subject_id: int | None = None):
    """Audit lines, newest first, each with the acting user's name (None: the system)."""
    query = select(AuditEntry)
    if subject_type:
        query = query.where(AuditEntry.subject_type == subject_type)
    if subject_id is not None:
        query = query.where(AuditEntry.subject_id == subject_id)
    p = paginate(query.add_columns(User.display_name).outerjoin(User, User.id == AuditEntry.actor_id)
                 .order_by(AuditEntry.id.desc()), page, per_page, rows=True)
    return [(entry, actor) for entry, actor in p.items], p.page, p.pages
