"""What the member home shows from engagement: the upgrade banner, the retain target and the
task board, gathered in one call so the template only branches on ready-made values."""
from dataclasses import dataclass
from datetime import datetime

from ..points.models import TierChange
from ..points.tiers import TierStatus, tier_status, unseen_upgrade
from .tasks import TaskBoard, task_board


@dataclass(frozen=True)
class HomePanel:
    upgrade: TierChange | None
    tier: TierStatus
    board: TaskBoard


def home_panel(member_id: int, now: datetime) -> HomePanel:
    return HomePanel(upgrade=unseen_upgrade(member_id, now), tier=tier_status(member_id, now),
                     board=task_board(member_id, now))
