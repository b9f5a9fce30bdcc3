"""The merchandiser's side of games: create a game, set its prizes while it is a draft, open
it (prizes frozen, the seed's commitment published) and close it (the seed revealed).

A game's cost cap is a programme budget (scope "game", target: the game's id) in the one
budget model (mall/budgets): its monthly allowance is the game's budget, refused (never held)
when used up, so a prize that doesn't fit falls down the ladder instead (mall/games/play.py).
"""
from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from ..accounts.auditlog import audit
from ..budgets.models import WhenExhausted
from ..budgets.services import default_budget_name, set_programme_budget
from ..catalog.models import Item
from ..engagement.segments import SEGMENTS
from ..errors import DomainError, NotFound
from ..extensions import db
from ..points.tiers import all_tiers
from ..wallet.issue import face_points
from ..wallet.models import CouponSpec
from . import draws
from .models import Game, GameKind, GamePrize, GameStatus, PlayCost, DrawTask, PrizeKind

MAX_PRIZES = 12
MAX_WEIGHT = 1_000_000


class GameNotEditable(DomainError):
    message = _l("Prizes can only change while the game is a draft: its odds are published once it opens.")


class GameNotReady(DomainError):
    message = _l("A game needs at least two prizes, one of them costing nothing (such as “thanks for playing”).")


class WrongGameStatus(DomainError):
    message = _l("That can't be done to the game in its present state.")


@dataclass
class GameData:
    name: str
    kind: str
    starts_at: datetime
    ends_at: datetime
    cost_kind: str
    budget_points: int
    daily_limit: int
    total_limit: int
    cost_points: int = 0
    draw_task: str | None = None
    streak_days: int | None = None
    name_zh: str | None = None
    tiers: list = field(default_factory=list)
    segments: list = field(default_factory=list)
    pity_after: int | None = None


@dataclass
class PrizeData:
    kind: str
    label: str
    weight: int
    label_zh: str | None = None
    points: int | None = None
    item_id: int | None = None
    coupon_spec_id: int | None = None
    packet_minor: int | None = None
    stock: int | None = None
    cost_points: int = 0


def _check_game(data: GameData) -> None:
    if not (data.name or "").strip():
        raise DomainError(_l("Give the game a name."), field="name")
    if data.kind not in tuple(k.value for k in GameKind):
        raise DomainError(field="kind")
    if data.starts_at is None or data.ends_at is None or data.ends_at <= data.starts_at:
        raise DomainError(_l("The game must end after it starts."), field="ends_at")
    if data.cost_kind == PlayCost.POINTS.value:
        if not data.cost_points or data.cost_points <= 0:
            raise DomainError(_l("A play costs at least one point."), field="cost_points")
    elif data.cost_kind == PlayCost.DRAW.value:
        if data.draw_task not in tuple(t.value for t in DrawTask):
            raise DomainError(_l("Choose the task that earns a draw."), field="draw_task")
        if data.draw_task == DrawTask.CHECKIN_STREAK.value and not (data.streak_days and data.streak_days > 0):
            raise DomainError(_l("Say how many check-ins in a row earn a draw."), field="streak_days")
    else:
        raise DomainError(field="cost_kind")
    if not data.budget_points or data.budget_points <= 0:
        raise DomainError(_l("Set the game's budget in points."), field="budget_points")
    if not data.daily_limit or data.daily_limit <= 0 or not data.total_limit or data.total_limit < data.daily_limit:
        raise DomainError(_l("The total limit must be at least the daily limit, and both above zero."),
                          field="total_limit")
    codes = {t.code for t in all_tiers()}
    if any(t not in codes for t in data.tiers) or any(s not in SEGMENTS for s in data.segments):
        raise DomainError(field="tiers")
    if data.pity_after is not None and data.pity_after <= 0:
        raise DomainError(field="pity_after")


def create_game(data: GameData, *, actor_id: int, now: datetime) -> Game:
    """A draft game with a fresh secret seed and its own programme budget."""
    _check_game(data)
    seed = draws.new_seed()
    game = Game(name=data.name.strip()[:80], name_zh=(data.name_zh or "").strip()[:80] or None, kind=data.kind,
                status=GameStatus.DRAFT.value, starts_at=data.starts_at, ends_at=data.ends_at,
                cost_kind=data.cost_kind, cost_points=data.cost_points if data.cost_kind == "points" else 0,
                draw_task=data.draw_task if data.cost_kind == "draw" else None,
                streak_days=data.streak_days if data.draw_task == DrawTask.CHECKIN_STREAK.value else None,
                daily_limit=data.daily_limit, total_limit=data.total_limit, tiers=list(data.tiers),
                segments=list(data.segments), pity_after=data.pity_after, budget_points=data.budget_points,
                seed_hex=seed, commitment=draws.commitment(seed), created_by=actor_id, created_at=now)
    db.session.add(game)
    db.session.flush()
    # The default name: HQ's pages name a game's budget by the game, in the reader's language.
    budget = set_programme_budget("game", str(game.id), default_budget_name("game", str(game.id)), data.budget_points,
                                  WhenExhausted.REFUSE.value, actor_id=actor_id, now=now)
    game.programme_budget_id = budget.id
    audit(actor_id, "game_created", "game", game.id, "", now, name=game.name, kind=game.kind)
    db.session.flush()
    return game


def get_game(game_id: int) -> Game:
    game = db.session.get(Game, game_id)
    if game is None:
        raise NotFound()
    return game


def _locked_game(game_id: int) -> Game:
    """The game's row locked (and re-read) for a change of its prizes or status: edits and
    the opening wait for each other, so a prize can't change while the game opens and two
    prizes added at once get consecutive positions."""
    game = db.session.execute(select(Game).where(Game.id == game_id).with_for_update()
                              .execution_options(populate_existing=True)).scalar_one_or_none()
    if game is None:
        raise NotFound()
    db.session.expire(game, ["prizes"])
    return game


def _check_prize(data: PrizeData) -> None:
    if data.kind not in tuple(k.value for k in PrizeKind):
        raise DomainError(field="kind")
    if not (data.label or "").strip():
        raise DomainError(_l("Give the prize a label."), field="label")
    if not data.weight or not 0 < data.weight <= MAX_WEIGHT:
        raise DomainError(_l("The weight must be between 1 and %(n)s.", n=MAX_WEIGHT), field="weight")
    if data.stock is not None and data.stock < 0:
        raise DomainError(field="stock")
    if data.kind == PrizeKind.POINTS.value and not (data.points and data.points > 0):
        raise DomainError(_l("Say how many points the prize gives."), field="points")
    if data.kind == PrizeKind.ITEM.value:
        item = db.session.get(Item, data.item_id) if data.item_id else None
        if item is None or not item.plans:
            raise DomainError(_l("Choose a catalogue item."), field="item_id")
        if item.kind != "goods":  # the prize is an order picked up at a store (play._deliver_item)
            raise DomainError(_l("An item prize is goods picked up at a store; give a coupon or red packet as "
                                 "its own prize."), field="item_id")
        if not data.cost_points or data.cost_points <= 0:
            raise DomainError(_l("Give the item's value in points (what it costs the budget)."), field="cost_points")
    if data.kind == PrizeKind.COUPON.value:
        spec = db.session.get(CouponSpec, data.coupon_spec_id) if data.coupon_spec_id else None
        if spec is None or not spec.active:
            raise DomainError(_l("Choose a coupon that is being issued."), field="coupon_spec_id")
    if data.kind == PrizeKind.RED_PACKET.value and not (data.packet_minor and data.packet_minor > 0):
        raise DomainError(_l("Give the red packet's value."), field="packet_minor")


def _cost(data: PrizeData) -> int:
    """What one award costs the game's budget, in points: a points prize its points; a coupon
    or red packet the value the merchandiser gave, else its face value in points (the
    wallet's rate); goods the value given (required); "thanks for playing" nothing."""
    if data.kind == PrizeKind.POINTS.value:
        return data.points
    if data.kind == PrizeKind.NOTHING.value:
        return 0
    if data.cost_points:
        return data.cost_points
    if data.kind == PrizeKind.RED_PACKET.value:
        return face_points(data.packet_minor)
    spec = db.session.get(CouponSpec, data.coupon_spec_id)
    value = spec.value_minor or spec.cap_minor or 0  # a percent coupon without a cap: give its value
    return face_points(value) if value else 1


def add_prize(game_id: int, data: PrizeData, *, actor_id: int, now: datetime) -> GamePrize:
    game = _locked_game(game_id)
    if game.status != GameStatus.DRAFT.value:
        raise GameNotEditable()
    _check_prize(data)
    if len(game.prizes) >= MAX_PRIZES:
        raise DomainError(_l("A game has at most %(n)s prizes.", n=MAX_PRIZES))
    kind = data.kind
    cost = _cost(data)
    position = (db.session.scalar(select(func.max(GamePrize.position)).where(GamePrize.game_id == game.id)) or 0) + 1
    prize = GamePrize(game_id=game.id, position=position, kind=kind, label=data.label.strip()[:80],
                      label_zh=(data.label_zh or "").strip()[:80] or None,
                      points=data.points if kind == PrizeKind.POINTS.value else None,
                      item_id=data.item_id if kind == PrizeKind.ITEM.value else None,
                      coupon_spec_id=data.coupon_spec_id if kind == PrizeKind.COUPON.value else None,
                      packet_minor=data.packet_minor if kind == PrizeKind.RED_PACKET.value else None,
                      weight=data.weight, stock=data.stock if cost > 0 else None, awarded=0, cost_points=cost)
    db.session.add(prize)
    db.session.flush()
    db.session.expire(game, ["prizes"])
    audit(actor_id, "game_prize_added", "game", game.id, "", now, label=prize.label, weight=prize.weight)
    return prize


def remove_prize(game_id: int, prize_id: int, *, actor_id: int, now: datetime) -> None:
    game = _locked_game(game_id)
    prize = db.session.get(GamePrize, prize_id)
    if prize is None or prize.game_id != game.id:
        raise NotFound()
    if game.status != GameStatus.DRAFT.value:
        raise GameNotEditable()
    db.session.delete(prize)
    db.session.flush()
    db.session.expire(game, ["prizes"])
    audit(actor_id, "game_prize_removed", "game", game.id, "", now, label=prize.label)


def open_game(game_id: int, *, actor_id: int, now: datetime) -> Game:
    """Publish the game: its prizes are frozen and the commitment to its seed is shown."""
    game = _locked_game(game_id)
    if game.status != GameStatus.DRAFT.value:
        raise WrongGameStatus()
    if len(game.prizes) < 2 or not any(p.cost_points == 0 for p in game.prizes):
        raise GameNotReady()
    game.status, game.opened_at = GameStatus.OPEN.value, now
    audit(actor_id, "game_opened", "game", game.id, "", now, commitment=game.commitment)
    db.session.flush()
    return game


def close_game(game_id: int, *, actor_id: int | None, now: datetime) -> Game:
    """End play and reveal the seed, so that anyone can check every draw."""
    game = _locked_game(game_id)
    if game.status != GameStatus.OPEN.value:
        raise WrongGameStatus()
    game.status, game.closed_at = GameStatus.CLOSED.value, now
    audit(actor_id, "game_closed", "game", game.id, "", now)
    db.session.flush()
    return game


def close_ended_games(now: datetime) -> int:
    """Close (and reveal) every open game whose window has ended (`mall jobs`)."""
    ended = db.session.scalars(select(Game).where(Game.status == GameStatus.OPEN.value, Game.ends_at <= now)).all()
    for game in ended:
        close_game(game.id, actor_id=None, now=now)
    return len(ended)


def all_games(*, statuses: tuple[str, ...] | None = None) -> list[Game]:
    query = select(Game).order_by(Game.starts_at.desc(), Game.id.desc())
    if statuses:
        query = query.where(Game.status.in_(statuses))
    return list(db.session.scalars(query).all())


def specs(game: Game) -> list[draws.PrizeSpec]:
    return [draws.PrizeSpec(p.id, p.position, p.weight, p.cost_points) for p in game.prizes]
