"""Recompute every draw of a closed game from its revealed seed (`flask mall games verify`).

For each play, in each member's play order, the check is the one docs/games.md gives anyone
with the seed: the seed matches the published commitment; the pity flag follows from the
member's earlier plays; HMAC-SHA256(seed, "game:member:play_no") with rejection sampling
gives the recorded digest, attempt and value over the recorded total; the value picks the
recorded drawn prize; and the awarded prize is the first on the ladder below the drawn one
after exactly the recorded fallbacks, each with a reason that the game's final state
supports (a prize refused for stock ran out; one refused for the budget has a cost).
"""
from collections import Counter
from dataclasses import dataclass

from sqlalchemy import select

from ..extensions import db
from . import draws
from .management import get_game, specs
from .models import FALLBACK_REASONS, GamePlay, GameStatus


@dataclass(frozen=True)
class Mismatch:
    play_id: int
    what: str


@dataclass(frozen=True)
class Verification:
    game_id: int
    plays: int
    mismatches: list

    @property
    def ok(self) -> bool:
        return not self.mismatches


class NotRevealed(Exception):
    """The game is still open: its seed is secret, so its draws can't be checked yet."""


def check_play(play: GamePlay, seed_hex: str, prizes: list[draws.PrizeSpec], by_id: dict, history: list[bool],
               pity_after: int | None) -> list[str]:
    """What is wrong with one play (an empty list: it checks out)."""
    wrong = []
    pity = draws.is_pity(pity_after, history)
    if pity != play.pity:
        wrong.append(f"pity flag {play.pity} but the member's earlier plays say {pity}")
    pool = draws.pool(prizes, pity)
    d = draws.draw(seed_hex, play.game_id, play.member_id, play.play_no, sum(p.weight for p in pool))
    if (d.digest, d.attempt, d.total, d.value) != (play.digest, play.attempt, play.draw_total, play.draw_value):
        wrong.append(f"draw {d.value}/{d.total} (digest {d.digest[:12]}…) but {play.draw_value}/{play.draw_total} "
                     f"recorded")
    drawn = draws.pick(pool, d.value)
    if drawn.id != play.drawn_prize_id:
        wrong.append(f"drawn prize {drawn.id} but {play.drawn_prize_id} recorded")
    steps = draws.chain(prizes, drawn)
    passed = [f[0] for f in (play.fallbacks or [])]
    expected = [s.id for s in steps[:len(passed)]]
    if passed != expected or len(passed) >= len(steps) or steps[len(passed)].id != play.prize_id:
        wrong.append(f"awarded prize {play.prize_id} after fallbacks {passed}, but the ladder below the drawn prize "
                     f"is {[s.id for s in steps]}")
    for prize_id, reason in play.fallbacks or []:
        prize = by_id.get(prize_id)
        if reason not in FALLBACK_REASONS or prize is None:
            wrong.append(f"unknown fallback {prize_id}: {reason}")
        elif reason == "stock" and (prize.stock is None or prize.awarded < prize.stock):
            wrong.append(f"prize {prize_id} passed over for stock, but it never ran out")
        elif reason in ("budget", "item_stock") and prize.cost_points == 0:
            wrong.append(f"prize {prize_id} passed over for {reason}, but it costs nothing")
    return wrong


def verify_game(game_id: int) -> Verification:
    """Every play of a closed game recomputed; raises NotRevealed for a game not closed."""
    game = get_game(game_id)
    if game.status != GameStatus.CLOSED.value:
        raise NotRevealed()
    prizes = specs(game)
    by_id = {p.id: p for p in game.prizes}
    mismatches = []
    if draws.commitment(game.seed_hex) != game.commitment:
        mismatches.append(Mismatch(0, "the revealed seed does not match the published commitment"))
    plays = db.session.scalars(select(GamePlay).where(GamePlay.game_id == game.id)
                               .order_by(GamePlay.member_id, GamePlay.play_no)).all()
    history: dict[int, list[bool]] = {}
    awarded = Counter()
    for play in plays:
        earlier = history.setdefault(play.member_id, [])
        if play.play_no != len(earlier) + 1:
            mismatches.append(Mismatch(play.id, f"play number {play.play_no} out of sequence"))
        for what in check_play(play, game.seed_hex, prizes, by_id, earlier, game.pity_after):
            mismatches.append(Mismatch(play.id, what))
        prize = by_id.get(play.prize_id)
        earlier.append(bool(prize and prize.cost_points > 0))
        awarded[play.prize_id] += 1
    for prize in game.prizes:
        if prize.cost_points > 0 and prize.awarded != awarded[prize.id]:
            mismatches.append(Mismatch(0, f"prize {prize.id} counts {prize.awarded} awarded but {awarded[prize.id]} "
                                          f"plays won it"))
    return Verification(game.id, len(plays), mismatches)
