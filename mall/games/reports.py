"""What the pages show: a game's published odds (computed from its configuration, before
anyone plays), a member's play history with what checks each draw, and HQ's report."""
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from ..budgets.models import BudgetMonth
from ..budgets.services import month_of
from ..extensions import db
from ..pagination import paginate
from . import odds
from .management import get_game
from .models import Game, GamePlay, GamePrize, PrizeKind
from .play import draws_left, is_open, may_play, plays_so_far


@dataclass(frozen=True)
class PrizeOdds:
    prize: GamePrize
    weight: int
    total: int
    left: int | None        # None: unlimited
    ladder_next: GamePrize | None  # what it falls back to when it can't be given

    @property
    def percent(self) -> float:
        return 100 * self.weight / self.total


def prize_odds(game: Game) -> list[PrizeOdds]:
    total = sum(p.weight for p in game.prizes)
    ladder = sorted(game.prizes, key=lambda p: (-p.cost_points, p.position))
    nxt = {p.id: (ladder[i + 1] if i + 1 < len(ladder) else None) for i, p in enumerate(ladder)}
    return [PrizeOdds(p, p.weight, total, p.left, nxt[p.id] if p.cost_points > 0 else None) for p in game.prizes]


@dataclass(frozen=True)
class GamePage:
    game: Game
    odds: list[PrizeOdds]
    open: bool
    eligible: bool
    plays_today: int
    plays_total: int
    draws_left: int


def game_page(game_id: int, member_id: int | None, now: datetime, day) -> GamePage:
    game = get_game(game_id)
    today = total = left = 0
    eligible = False
    if member_id is not None:
        today, total = plays_so_far(game.id, member_id, day)
        left = draws_left(game.id, member_id)
        eligible = may_play(game, member_id, now)
    return GamePage(game, prize_odds(game), is_open(game, now), eligible, today, total, left)


def member_plays(member_id: int, page: int = 1, per_page: int = 20):
    query = (select(GamePlay).where(GamePlay.member_id == member_id)
             .order_by(GamePlay.created_at.desc(), GamePlay.id.desc()))
    p = paginate(query, page, per_page)
    return p.items, p.page, p.pages


@dataclass(frozen=True)
class PrizeLine:
    prize: GamePrize
    published_pct: float
    drawn: int
    awarded: int
    drawn_pct: float


@dataclass(frozen=True)
class Report:
    game: Game
    plays: int
    players: int
    points_taken: int
    draws_used: int
    cost: int
    budget_limit: int
    by_kind: dict
    lines: list
    chi_square: float
    p_value: float


def report(game_id: int, now: datetime) -> Report:
    """Plays, players, points taken, prizes by kind, cost against budget, and how often each
    prize was drawn beside its published chance (with Pearson's chi-square over the plays that
    drew from all prizes; pity plays draw from the prizes of value only and are left out)."""
    game = get_game(game_id)
    plays, players, taken, used_draws, cost = db.session.execute(
        select(func.count(GamePlay.id), func.count(func.distinct(GamePlay.member_id)),
               func.coalesce(func.sum(GamePlay.points_paid), 0),
               func.count(GamePlay.id).filter(GamePlay.used_draw.is_(True)),
               func.coalesce(func.sum(GamePlay.cost_points), 0)).where(GamePlay.game_id == game.id)).one()
    drawn = dict(db.session.execute(select(GamePlay.drawn_prize_id, func.count()).where(
        GamePlay.game_id == game.id, GamePlay.pity.is_(False)).group_by(GamePlay.drawn_prize_id)).all())
    won = dict(db.session.execute(select(GamePlay.prize_id, func.count()).where(
        GamePlay.game_id == game.id).group_by(GamePlay.prize_id)).all())
    total_weight = sum(p.weight for p in game.prizes) or 1
    counted = sum(drawn.values())
    lines = [PrizeLine(p, 100 * p.weight / total_weight, drawn.get(p.id, 0), won.get(p.id, 0),
                       100 * drawn.get(p.id, 0) / counted if counted else 0.0) for p in game.prizes]
    by_kind = {k.value: 0 for k in PrizeKind}
    for p in game.prizes:
        by_kind[p.kind] += won.get(p.id, 0)
    stat = odds.chi_square([drawn.get(p.id, 0) for p in game.prizes],
                           [counted * p.weight / total_weight for p in game.prizes]) if counted else 0.0
    limit = db.session.scalar(select(BudgetMonth.limit_points).where(
        BudgetMonth.programme_budget_id == game.programme_budget_id, BudgetMonth.month == month_of(now)))
    return Report(game, plays, players, taken, used_draws, cost, limit or game.budget_points, by_kind, lines,
                  stat, odds.chi_square_p(stat, len(game.prizes) - 1) if counted else 1.0)
