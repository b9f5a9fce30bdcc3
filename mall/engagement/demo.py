"""Demo data for engagement, loaded by `flask mall demo` after the foundation's data.
Idempotent. The rules are scoped to categories, so the demo's other purchases (and the
other screens' tests) keep plain base × tier points."""
from datetime import datetime, timedelta

from sqlalchemy import select

from ..accounts import services as accounts
from ..extensions import db
from ..notifications.reminders import send_expiry_reminders
from ..points.ledger import credit_points
from .models import EarningRule
from .rulebook import RuleDraft, save_rule
from .tasks import check_in

ENGAGED = "engaged@example.com"

DEMO_RULES = [
    RuleDraft(kind="time_slot", name="Fresh day", name_zh="生鲜日", value=200, weekdays=(3,), category_slug="fresh"),
    RuleDraft(kind="category_bonus", name="New category", name_zh="新品类", value=30, category_slug="travel"),
    RuleDraft(kind="cap", name="Cap", name_zh="上限", value=300),
]


def load_engagement_demo(now: datetime, password: str) -> list[tuple[str, str, str]]:
    if db.session.scalar(select(EarningRule.id).limit(1)) is None:
        for draft in DEMO_RULES:
            save_rule(draft, actor_id=None, now=now - timedelta(days=60))
    member = accounts.find_by_identifier(ENGAGED)
    if member is None:
        member = accounts.register(ENGAGED, password, "Zhao Min", now=now - timedelta(days=90))
        credit_points(member.id, 300, reason="welcome", source="demo", key=f"{member.member_code}:welcome",
                      expires_at=now + timedelta(days=20), now=now - timedelta(days=340))
        for days_ago in range(6, 0, -1):  # six days in a row: today's check-in is day 7, the bonus
            check_in(member.id, now - timedelta(days=days_ago))
    send_expiry_reminders(now)
    db.session.flush()
    return [("member", ENGAGED, "6-day check-in streak, an expiry reminder in the inbox")]
