"""1,000 concurrent plays of one game on real PostgreSQL and Redis (issue 14): a game with 10
units of the top prize and a budget that covers half the expected cost of its prizes. No
more top prizes than stock, no more cost than budget, every member's points conserved (each
play paid once), `mall audit` clean, and every draw verifies after the reveal."""
import time

from sqlalchemy import func, select

from mall.audit import run_audit
from mall.budgets.models import BudgetMonth
from mall.extensions import db
from mall.games import management
from mall.games.play import play
from mall.games.verify import verify_game
from mall.games.models import GamePlay, GamePrize
from mall.points.models import LedgerEntry, PointsAccount
from tests.concurrency import race
from tests.factories import give_points, make_tiers, make_user
from tests.games_world import SMALL, THANKS, TOP, make_game

THREADS, PLAYS, PRICE, START_POINTS = 16, 1000, 10, 1000
TOP_STOCK, TOP_POINTS, SMALL_POINTS = 10, 1000, 50
WEIGHTS = {TOP: 5, SMALL: 20, THANKS: 75}  # per 100 plays
# Expected cost of the prizes: the top prize is drawn ~50 times but has 10 units (10,000
# points), the small one ~200 times (10,000 points): 20,000; the budget covers half of it.
EXPECTED_COST = min(PLAYS * WEIGHTS[TOP] // 100, TOP_STOCK) * TOP_POINTS + PLAYS * WEIGHTS[SMALL] // 100 * SMALL_POINTS
BUDGET = EXPECTED_COST // 2


def test_1000_concurrent_plays_keep_stock_budget_and_points(pg_app, clock):
    make_tiers()
    members = [make_user(clock.now()).id for _ in range(THREADS)]
    for member_id in members:
        give_points(member_id, START_POINTS, clock.now())
    game = make_game(clock.now(), cost_points=PRICE, budget=BUDGET, daily_limit=PLAYS, total_limit=PLAYS,
                     prizes=[("points", TOP, WEIGHTS[TOP], TOP_STOCK, TOP_POINTS),
                             ("points", SMALL, WEIGHTS[SMALL], None, SMALL_POINTS),
                             ("nothing", THANKS, WEIGHTS[THANKS], None, None)])
    game_id = game.id
    db.session.commit()
    shares = [PLAYS // THREADS + (1 if i < PLAYS % THREADS else 0) for i in range(THREADS)]  # 63 x 8, 62 x 8

    def work(i):
        for n in range(shares[i]):
            play(game_id, members[i], key=f"t{i}-{n}", now=clock.now())
            db.session.commit()
        return shares[i]

    started = time.monotonic()
    outcomes = race(pg_app, THREADS, work, returns=True)
    elapsed = time.monotonic() - started
    db.session.expire_all()
    assert outcomes == shares, outcomes

    plays = db.session.scalar(select(func.count(GamePlay.id)).where(GamePlay.game_id == game_id))
    prizes = {p.label: p for p in db.session.scalars(select(GamePrize).where(GamePrize.game_id == game_id))}
    won = dict(db.session.execute(select(GamePlay.prize_id, func.count()).group_by(GamePlay.prize_id)).all())
    drawn_top = db.session.scalar(select(func.count()).where(GamePlay.drawn_prize_id == prizes[TOP].id))
    cost = db.session.scalar(select(func.sum(GamePlay.cost_points)))
    month = db.session.scalar(select(BudgetMonth).where(BudgetMonth.programme_budget_id == game.programme_budget_id))
    reasons = {}
    for steps in db.session.scalars(select(GamePlay.fallbacks)).all():
        for _prize, reason in steps:
            reasons[reason] = reasons.get(reason, 0) + 1

    assert plays == PLAYS
    assert won.get(prizes[TOP].id, 0) <= TOP_STOCK and prizes[TOP].awarded == won.get(prizes[TOP].id, 0)
    assert cost <= BUDGET and month.used_points == cost <= month.limit_points == BUDGET
    # Points conserved: each member has what they started with, less one price per play, plus
    # their points prizes; and the ledger says the same.
    for member_id in members:
        paid = db.session.scalar(select(func.sum(GamePlay.points_paid)).where(GamePlay.member_id == member_id))
        credited = db.session.scalar(select(func.coalesce(func.sum(LedgerEntry.points), 0)).where(
            LedgerEntry.member_id == member_id, LedgerEntry.reason == "game_prize"))
        spent = db.session.scalar(select(func.count(LedgerEntry.id)).where(
            LedgerEntry.member_id == member_id, LedgerEntry.reason == "game_play"))
        balance = db.session.get(PointsAccount, member_id).balance
        assert spent == db.session.scalar(select(func.count(GamePlay.id)).where(GamePlay.member_id == member_id))
        assert balance == START_POINTS - paid + credited
    assert [f.check for f in run_audit() if f.violations] == []
    management.close_game(game_id, actor_id=None, now=clock.now())
    db.session.commit()
    assert verify_game(game_id).ok
    print(f"\n{PLAYS} plays by {THREADS} threads in {elapsed:.1f} s ({PLAYS / elapsed:.0f} plays/s): "
          f"top prize drawn {drawn_top}x, awarded {won.get(prizes[TOP].id, 0)}/{TOP_STOCK}; "
          f"small awarded {won.get(prizes[SMALL].id, 0)}; thanks {won.get(prizes[THANKS].id, 0)}; "
          f"cost {cost}/{BUDGET} budget (expected cost {EXPECTED_COST}); passed over {reasons}")
    assert reasons.get("budget", 0) > 0  # the budget did bind


def test_prizes_added_at_once_to_a_draft_game_all_land_in_distinct_positions(pg_app, clock):
    """Concurrent add_prize calls lock the game's row: each reads the last position after
    the one before committed, so none fails on the (game, position) unique constraint."""
    make_tiers()
    game = make_game(clock.now(), open_it=False, prizes=[("nothing", THANKS, 1, None, None)])
    actor_id, game_id = game.created_by, game.id
    db.session.commit()

    outcomes = race(pg_app, 6, lambda i: management.add_prize(
        game_id, management.PrizeData(kind="points", label=f"Prize {i}", label_zh=f"奖品 {i}", weight=1, points=10 + i,
                                      cost_points=10 + i), actor_id=actor_id, now=clock.now()),
        refusals=(management.DomainError,))

    assert outcomes == ["ok"] * 6, outcomes
    positions = db.session.scalars(select(GamePrize.position).where(GamePrize.game_id == game_id)
                                   .order_by(GamePrize.position)).all()
    assert positions == [1, 2, 3, 4, 5, 6, 7]


def test_the_free_prize_removed_while_the_game_opens_never_leaves_an_open_game_without_it(pg_app, clock,
                                                                                          monkeypatch):
    """open_game and remove_prize lock the game's row: either the removal goes first and the
    opening is refused (no prize costing nothing), or the opening goes first and the removal
    is refused (prizes frozen). Never both, which would publish a game its checks refused."""
    import threading
    # The worst interleaving, every time: each waits (up to 2 s) for the other once past its
    # checks, before committing. With the game's row locked, the other is still waiting for
    # the lock, and the wait times out.
    both_checked, audit = threading.Barrier(2), management.audit

    def audit_then_wait(*args, **kwargs):
        audit(*args, **kwargs)
        if args[1] in ("game_opened", "game_prize_removed"):
            try:
                both_checked.wait(2)
            except threading.BrokenBarrierError:
                pass
    monkeypatch.setattr(management, "audit", audit_then_wait)
    make_tiers()
    game = make_game(clock.now(), open_it=False)
    actor_id, game_id = game.created_by, game.id
    thanks_id = db.session.scalar(select(GamePrize.id).where(GamePrize.game_id == game_id, GamePrize.label == THANKS))
    db.session.commit()

    def work(i):
        if i == 0:
            return management.open_game(game_id, actor_id=actor_id, now=clock.now())
        return management.remove_prize(game_id, thanks_id, actor_id=actor_id, now=clock.now())
    outcomes = race(pg_app, 2, work, refusals=(management.DomainError,))

    db.session.expire_all()
    assert outcomes in (["ok", "GameNotEditable"], ["GameNotReady", "ok"]), outcomes
    game = management.get_game(game_id)
    if game.status == "open":
        assert any(p.cost_points == 0 for p in game.prizes)
