"""Playing a game: pay, draw, award and deliver, in ONE transaction.

Order of work (and of row locks, the same for every play, so plays never deadlock):
1. every refusal first (window, who may play, limits, points or draws), nothing written;
2. the member's account row (lock_account): one member's plays are serial, so a double tap
   finds the first play by its key, and play numbers are consecutive;
3. the play's cost: a ledger spend naming the game, or one earned draw (conditional UPDATE);
4. the draw (mall/games/draws.py), then down the prize ladder from the drawn prize: each
   step, in a savepoint, takes one unit of the prize's stock (UPDATE ... WHERE awarded <
   stock), charges its value to the game's budget (the one conditional UPDATE of
   mall/budgets) and delivers it (a ledger credit naming the game, or an order ready for
   pickup that sells the item's stock). A step refused by any of the three rolls back its
   savepoint (releasing its row locks) and is recorded with its reason; the ladder ends at a
   no-cost prize, which is never refused.
Why 1,000 concurrent plays can't overshoot: both the stock and the budget are conditional
UPDATEs that PostgreSQL re-checks on the newest row version, behind CHECK constraints
(awarded <= stock, used_points <= limit_points); tests/integration/test_games_pg.py.
"""
from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update

from .. import shoptime
from ..budgets.services import BudgetHeld, BudgetRefused, charge_discretionary, record_issued, refuse_frozen
from ..catalog.models import Item
from ..checkout.orders import record, write_order
from ..checkout.pricing import Quote
from ..checkout.quotes import PricedLine, Totals
from ..engagement.segments import segment_of
from ..errors import DomainError, InsufficientPoints
from ..extensions import db
from ..inventory import reservations
from ..inventory.reservations import OutOfStock, Want
from ..points.ledger import credit_points, lock_account, spend_points, spendable_of
from ..points.tiers import expiry_for, tier_status
from ..wallet.issue import issue as issue_coupon, issue_red_packet
from . import draws
from .management import get_game, specs
from .models import RED_PACKET_DAYS, DrawBalance, Game, GamePlay, GamePrize, GameStatus, PlayCost, PrizeKind


class GameNotOpen(DomainError):
    message = _l("This game is not open for play right now.")


class NotEligible(DomainError):
    message = _l("This game is for other members (its tiers or groups don't include you).")


class DailyLimitReached(DomainError):
    message = _l("You've played as many times as this game allows today. Come back tomorrow.")


class TotalLimitReached(DomainError):
    message = _l("You've played as many times as this game allows.")


class NoDrawLeft(DomainError):
    message = _l("You have no draws left for this game. Complete its task to earn one.")


class _Refused(Exception):
    def __init__(self, reason: str):
        self.reason = reason


@dataclass(frozen=True)
class PlayOutcome:
    play: GamePlay
    replay: bool  # the same form submitted again (a double tap): the first play, unchanged


def _by_key(game_id: int, member_id: int, key: str) -> GamePlay | None:
    return db.session.scalar(select(GamePlay).where(GamePlay.game_id == game_id, GamePlay.member_id == member_id,
                                                    GamePlay.idempotency_key == key))


def is_open(game: Game, now: datetime) -> bool:
    return game.status == GameStatus.OPEN.value and game.starts_at <= now < game.ends_at


def may_play(game: Game, member_id: int, now: datetime) -> bool:
    if game.tiers and tier_status(member_id, now).tier.code not in game.tiers:
        return False
    if game.segments and segment_of(member_id) not in game.segments:
        return False
    return True


def plays_so_far(game_id: int, member_id: int, day) -> tuple[int, int]:
    """(plays today, plays in all) of the member in the game."""
    total, today = db.session.execute(
        select(func.count(GamePlay.id), func.count(GamePlay.id).filter(GamePlay.day == day))
        .where(GamePlay.game_id == game_id, GamePlay.member_id == member_id)).one()
    return today, total


def draws_left(game_id: int, member_id: int) -> int:
    row = db.session.get(DrawBalance, (game_id, member_id))
    return row.earned - row.used if row is not None else 0


def earlier_valuable(game_id: int, member_id: int, last: int) -> list[bool]:
    """Whether each of the member's last `last` plays won a prize of value, oldest first."""
    rows = db.session.execute(
        select(GamePlay.play_no, GamePrize.cost_points).join(GamePrize, GamePrize.id == GamePlay.prize_id)
        .where(GamePlay.game_id == game_id, GamePlay.member_id == member_id)
        .order_by(GamePlay.play_no.desc()).limit(last)).all()
    return [cost > 0 for _no, cost in reversed(rows)]


def play(game_id: int, member_id: int, *, key: str, now: datetime, timezone: str | None = None) -> PlayOutcome:
    """One play of the game by the member, keyed by the play form's key (a double tap replays
    the first play). Raises GameNotOpen, NotEligible, MemberFrozen, DailyLimitReached,
    TotalLimitReached, InsufficientPoints or NoDrawLeft before writing anything."""
    game = get_game(game_id)
    key = (key or "")[:64]
    replay = _by_key(game.id, member_id, key) if key else None
    if replay is not None:
        return PlayOutcome(replay, True)
    if not key:
        raise DomainError(_l("That play form has expired: reload the page and play again."))
    if not is_open(game, now):
        raise GameNotOpen()
    refuse_frozen(member_id)
    if not may_play(game, member_id, now):
        raise NotEligible()
    account = lock_account(member_id, now, open_missing=False)
    replay = _by_key(game.id, member_id, key)
    if replay is not None:
        return PlayOutcome(replay, True)
    day = shoptime.local_day(now, timezone)
    today, total = plays_so_far(game.id, member_id, day)
    if total >= game.total_limit:
        raise TotalLimitReached()
    if today >= game.daily_limit:
        raise DailyLimitReached()
    if game.cost_kind == PlayCost.POINTS.value:
        available = spendable_of(account) if account is not None else 0
        if available < game.cost_points:
            raise InsufficientPoints(needed=game.cost_points, available=available)
    elif draws_left(game.id, member_id) <= 0:
        raise NoDrawLeft()
    account = account or lock_account(member_id, now)  # a member without an account yet: opened
    # In a savepoint: lots past their expiry are expired by the spend first, and if that leaves
    # too few points the refusal undoes the expiry too (a refusal writes nothing).
    with db.session.begin_nested():
        row = _play(game, member_id, account, key=key, play_no=total + 1, day=day, now=now)
    return PlayOutcome(row, False)


def _play(game: Game, member_id: int, account, *, key: str, play_no: int, day, now: datetime) -> GamePlay:
    facts = {"game": game.name, "game_zh": game.name_zh, "game_id": game.id, "play_no": play_no}
    spend_entry_id, used_draw = None, False
    if game.cost_kind == PlayCost.POINTS.value:
        spend_entry_id = spend_points(member_id, game.cost_points, reason="game_play", source="game",
                                      key=f"play:{game.id}:{member_id}:{play_no}", now=now, detail=facts,
                                      queue=False, locked=account).id
    else:
        used_draw = bool(db.session.execute(
            update(DrawBalance).where(DrawBalance.game_id == game.id, DrawBalance.member_id == member_id,
                                      DrawBalance.used < DrawBalance.earned)
            .values(used=DrawBalance.used + 1).execution_options(synchronize_session=False)).rowcount)
        if not used_draw:  # checked under the account lock just before; the CHECK stands behind
            raise NoDrawLeft()
    prizes = specs(game)
    pity = draws.is_pity(game.pity_after, earlier_valuable(game.id, member_id, game.pity_after or 0))
    pool = draws.pool(prizes, pity)
    drawn_draw = draws.draw(game.seed_hex, game.id, member_id, play_no, sum(p.weight for p in pool))
    drawn = draws.pick(pool, drawn_draw.value)
    rows = {p.id: p for p in game.prizes}
    fallbacks, delivered = [], None
    for step in draws.chain(prizes, drawn):
        try:
            delivered = _award(game, rows[step.id], member_id, account, play_no=play_no, facts=facts, now=now)
            break
        except _Refused as refused:
            fallbacks.append([step.id, refused.reason])
    prize, (credit_id, order_id, grant_id, wallet_item_id) = delivered
    row = GamePlay(game_id=game.id, member_id=member_id, play_no=play_no, idempotency_key=key, day=day,
                   created_at=now, points_paid=game.cost_points if spend_entry_id else 0, used_draw=used_draw,
                   digest=drawn_draw.digest, attempt=drawn_draw.attempt, draw_total=drawn_draw.total,
                   draw_value=drawn_draw.value, pity=pity, drawn_prize_id=drawn.id, prize_id=prize.id,
                   fallbacks=fallbacks, cost_points=prize.cost_points, spend_entry_id=spend_entry_id,
                   credit_entry_id=credit_id, order_id=order_id, grant_id=grant_id, wallet_item_id=wallet_item_id)
    db.session.add(row)
    db.session.flush()
    return row


def _award(game: Game, prize: GamePrize, member_id: int, account, *, play_no: int, facts: dict, now: datetime):
    """Take one unit of the prize, charge the budget and deliver it, all or nothing (a
    savepoint); raises _Refused(reason) when the stock, the budget or the item's stock
    can't. A no-cost prize is always given."""
    if prize.cost_points == 0:
        return prize, (None, None, None, None)
    try:
        with db.session.begin_nested():
            taken = db.session.execute(
                update(GamePrize).where(GamePrize.id == prize.id,
                                        (GamePrize.stock.is_(None)) | (GamePrize.awarded < GamePrize.stock))
                .values(awarded=GamePrize.awarded + 1).execution_options(synchronize_session=False)).rowcount
            if not taken:
                raise _Refused("stock")
            try:
                charge = charge_discretionary(None, prize.cost_points, "game_prize", now,
                                              programme=("game", str(game.id)))
            except (BudgetRefused, BudgetHeld):
                raise _Refused("budget") from None
            expires_at = expiry_for(tier_status(member_id, now).tier, now)
            credit_id = order_id = wallet_item_id = None
            detail = {**facts, "prize": prize.label, "prize_zh": prize.label_zh}
            if prize.kind == PrizeKind.POINTS.value:
                credit_id = credit_points(member_id, prize.points, reason="game_prize", source="game",
                                          key=f"prize:{game.id}:{member_id}:{play_no}", expires_at=expires_at,
                                          now=now, detail=detail, queue=False).id
            elif prize.kind == PrizeKind.ITEM.value:
                order_id = _deliver_item(prize, member_id, account, key=f"game:{game.id}:{play_no}", now=now)
            else:
                wallet_item_id = _deliver_to_wallet(prize, member_id, ref=f"{game.id}:{member_id}:{play_no}", now=now)
            grant = record_issued(charge, member_id, prize.cost_points, kind="game", reason="game_prize",
                                  source="game", key=f"prize:{game.id}:{member_id}:{play_no}",
                                  expires_at=expires_at, entry_id=credit_id, now=now, note=prize.label)
            return prize, (credit_id, order_id, grant.id if grant else None, wallet_item_id)
    except _Refused:
        db.session.expire(prize)  # `awarded` as the database has it after the rollback
        raise


def _deliver_to_wallet(prize: GamePrize, member_id: int, *, ref: str, now: datetime) -> int:
    """A coupon or red packet into the member's wallet (source "game"). Its value is charged
    to the game's budget by the play, so the wallet charges no budget of its own (budget=None).
    Raises _Refused("coupon") when the wallet refuses (the member holds the spec's limit, the
    spec stopped or its validity ended)."""
    try:
        if prize.kind == PrizeKind.COUPON.value:
            item = issue_coupon(member_id, prize.coupon_spec_id, source="game", source_ref=ref, now=now)
        else:
            item = issue_red_packet(member_id, prize.packet_minor, source="game", source_ref=ref, now=now,
                                    valid_days=RED_PACKET_DAYS, name=prize.label, name_zh=prize.label_zh or prize.label)
    except DomainError:
        raise _Refused("coupon") from None
    return item.id


def _deliver_item(prize: GamePrize, member_id: int, account, *, key: str, now: datetime) -> int:
    """The item as an order ready for pickup, paid by the game (0 points, no cash); its
    stock is sold at once. Raises _Refused("item_stock") when the item is out of stock."""
    item = db.session.get(Item, prize.item_id)
    plan = item.plans[0]
    line = PricedLine(item=item, plan=plan, quantity=1, offset_points=0, quote=Quote(0, 0, 0), unit_points=0,
                      max_offset_points=0)
    order = write_order(member_id, Totals(lines=[line], points=0, cash_minor=0, balance=0), status="ready",
                        key=key, now=now, label=f" · {prize.label}", account=account)
    record(order, "placed", now, actor="member", actor_id=member_id, note="game prize")
    record(order, "ready_for_pickup", now, note="game prize")
    try:
        reservations.hold(order.id, [Want(item.id, 1)], until=now, now=now, sell=True)
    except OutOfStock:
        raise _Refused("item_stock") from None
    return order.id
