"""Draws earned by tasks, for games whose play costs a draw instead of points: a check-in
streak (every `streak_days` consecutive check-ins) or a member's first purchase. One draw per
task event and game (UNIQUE), counted on the member's DrawBalance row."""
from datetime import datetime

from sqlalchemy import select, update

from ..extensions import db
from ..idempotency import insert_once
from .models import DrawBalance, DrawCredit, DrawTask, Game, GameStatus, PlayCost


def _open_draw_games(task: str, now: datetime) -> list[Game]:
    return list(db.session.scalars(select(Game).where(
        Game.status == GameStatus.OPEN.value, Game.cost_kind == PlayCost.DRAW.value, Game.draw_task == task,
        Game.starts_at <= now, Game.ends_at > now)).all())


def credit_draw(game_id: int, member_id: int, reason_key: str, now: datetime) -> bool:
    """One draw for the member in the game, once per reason_key; True when credited now."""
    def write():
        db.session.add(DrawCredit(game_id=game_id, member_id=member_id, reason_key=reason_key[:64], created_at=now))
        db.session.flush()
        return True
    _done, inserted = insert_once(write)
    if not inserted:
        return False
    if db.session.get(DrawBalance, (game_id, member_id)) is None:
        insert_once(lambda: (db.session.add(DrawBalance(game_id=game_id, member_id=member_id, earned=0, used=0)),
                             db.session.flush()))
    db.session.execute(update(DrawBalance).where(DrawBalance.game_id == game_id, DrawBalance.member_id == member_id)
                       .values(earned=DrawBalance.earned + 1).execution_options(synchronize_session=False))
    return True


def checked_in(member_id: int, streak: int, entry_id: int, now: datetime) -> int:
    """A check-in that reached `streak` days in a row: a draw in each game whose streak it completes."""
    credited = 0
    for game in _open_draw_games(DrawTask.CHECKIN_STREAK.value, now):
        if game.streak_days and streak > 0 and streak % game.streak_days == 0:
            credited += credit_draw(game.id, member_id, f"checkin:{entry_id}", now)
    return credited


def checked_in_many(checkins: list[tuple[int, int, int, datetime]]) -> int:
    """`checked_in` for a batch of (member_id, streak, entry_id, at): the games open at any of
    those times are read once; each check-in counts in the games open at its own time."""
    start, end = min(c[3] for c in checkins), max(c[3] for c in checkins)
    games = list(db.session.scalars(select(Game).where(
        Game.status == GameStatus.OPEN.value, Game.cost_kind == PlayCost.DRAW.value,
        Game.draw_task == DrawTask.CHECKIN_STREAK.value, Game.starts_at <= end, Game.ends_at > start)).all())
    credited = 0
    for member_id, streak, entry_id, at in checkins:
        for game in games:
            if game.starts_at <= at < game.ends_at and game.streak_days and streak > 0 \
                    and streak % game.streak_days == 0:
                credited += credit_draw(game.id, member_id, f"checkin:{entry_id}", at)
    return credited


def first_purchase(member_id: int, now: datetime) -> int:
    return sum(credit_draw(game.id, member_id, "first_purchase", now)
               for game in _open_draw_games(DrawTask.FIRST_PURCHASE.value, now))
