"""Games (issue 14) on SQLite: a play pays through the ledger and delivers its prize in the
same transaction, a double tap is one play, stock and budget send a draw down the ladder,
the pity rule, the published odds against 100,000 draws of the real draw function
(chi-square), and verification after the reveal. 1,000 concurrent plays on PostgreSQL are in
tests/integration/test_games_pg.py."""
import random

import pytest
from sqlalchemy import func, select

from mall.audit import run_audit
from mall.budgets.models import BudgetMonth, DiscretionaryGrant
from mall.checkout.models import Order
from mall.errors import InsufficientPoints
from mall.events import first_purchase
from mall.extensions import db
from mall.games import draws, management, odds
from mall.games.models import DrawBalance, GamePlay, GamePrize
from mall.games.play import DailyLimitReached, NoDrawLeft, NotEligible, TotalLimitReached, play
from mall.games.verify import NotRevealed, verify_game
from mall.points.models import LedgerEntry, PointsAccount
from tests.factories import give_points, make_item, make_user
from tests.games_world import SMALL, THANKS, TOP, make_game


def _failed_checks():
    return [f.check for f in run_audit() if f.violations]


def _balance(member_id):
    return db.session.get(PointsAccount, member_id).balance


@pytest.fixture
def member(tiers, clock):
    user = make_user(clock.now(), login="player@example.com")
    give_points(user.id, 10_000, clock.now())
    db.session.commit()
    return user


def _play(game, member, clock, key):
    outcome = play(game.id, member.id, key=key, now=clock.now())
    db.session.commit()
    return outcome.play


def test_a_play_pays_through_the_ledger_and_delivers_its_prize_naming_the_game(member, clock):
    game = make_game(clock.now())
    db.session.commit()
    won = 0
    for n in range(30):
        p = _play(game, member, clock, f"k{n}")
        won += p.prize.points or 0
        assert p.points_paid == 10 and p.play_no == n + 1
    # Points conserved: what was there, less 30 plays, plus every points prize.
    assert _balance(member.id) == 10_000 - 300 + won
    spends = db.session.scalars(select(LedgerEntry).where(LedgerEntry.reason == "game_play")).all()
    assert len(spends) == 30 and all(e.detail["game"] == "Lucky box" and e.points == -10 for e in spends)
    prizes = db.session.scalars(select(LedgerEntry).where(LedgerEntry.reason == "game_prize")).all()
    assert sum(e.points for e in prizes) == won
    # Each prize of value was charged to the game's budget in the one budget model.
    used = db.session.scalar(select(BudgetMonth.used_points).where(
        BudgetMonth.programme_budget_id == game.programme_budget_id))
    assert (used or 0) == won
    assert _failed_checks() == []


def test_a_double_tap_is_one_play(member, clock):
    game = make_game(clock.now())
    db.session.commit()
    first = play(game.id, member.id, key="tap", now=clock.now())
    db.session.commit()
    again = play(game.id, member.id, key="tap", now=clock.now())
    db.session.commit()
    assert again.replay and again.play.id == first.play.id
    assert db.session.scalar(select(func.count(GamePlay.id))) == 1
    assert db.session.scalar(select(func.count(LedgerEntry.id)).where(LedgerEntry.reason == "game_play")) == 1


def test_a_prize_out_of_stock_falls_down_the_ladder_and_says_why(member, clock):
    # The top prize is drawn almost always, but there are 2 of it.
    game = make_game(clock.now(), prizes=[("points", TOP, 1_000_000, 2, 100), ("points", SMALL, 1, None, 5),
                                          ("nothing", THANKS, 1, None, None)])
    db.session.commit()
    plays = [_play(game, member, clock, f"k{n}") for n in range(6)]
    tops = [p for p in plays if p.prize.label == TOP]
    assert len(tops) == 2
    fell = [p for p in plays if p.fallbacks]
    assert fell and all(p.fallbacks[0][1] == "stock" and p.prize.label == SMALL for p in fell)
    assert db.session.get(GamePrize, tops[0].prize_id).awarded == 2
    assert _failed_checks() == []


def test_a_prize_over_the_budget_falls_to_a_cheaper_one_and_the_budget_holds(member, clock):
    game = make_game(clock.now(), budget=250, prizes=[("points", TOP, 1_000_000, None, 100),
                                                      ("points", SMALL, 1, None, 5),
                                                      ("nothing", THANKS, 1, None, None)])
    db.session.commit()
    plays = [_play(game, member, clock, f"k{n}") for n in range(8)]
    assert [p.prize.label for p in plays[:2]] == [TOP, TOP]
    assert plays[2].prize.label == SMALL and plays[2].fallbacks[0][1] == "budget"
    month = db.session.scalar(select(BudgetMonth).where(BudgetMonth.programme_budget_id == game.programme_budget_id))
    assert month.used_points <= 250
    assert month.used_points == sum(p.cost_points for p in plays)
    assert _failed_checks() == []


def test_a_goods_prize_is_an_order_ready_for_pickup_charged_to_the_budget(member, clock):
    item = make_item(clock.now(), points=300, stock=5)
    game = make_game(clock.now(), prizes=[("item", "Mug", 1_000_000, 3, item.id), ("nothing", THANKS, 1, None, None)])
    db.session.commit()
    p = _play(game, member, clock, "k")
    assert p.prize.kind == "item"
    order = db.session.get(Order, p.order_id)
    assert order.status == "ready" and order.points_total == 0 and order.lines[0].item_id == item.id
    grant = db.session.get(DiscretionaryGrant, p.grant_id)
    assert grant.kind == "game" and grant.points == 200 and grant.entry_id is None
    assert _failed_checks() == []


def test_refusals_write_nothing(member, clock, tiers):
    game = make_game(clock.now(), daily_limit=2, total_limit=3)
    db.session.commit()
    _play(game, member, clock, "a")
    _play(game, member, clock, "b")
    with pytest.raises(DailyLimitReached):
        play(game.id, member.id, key="c", now=clock.now())
    db.session.rollback()
    clock.advance(days=1)
    _play(game, member, clock, "d")
    with pytest.raises(TotalLimitReached):
        play(game.id, member.id, key="e", now=clock.now())
    db.session.rollback()
    poor = make_user(clock.now())
    db.session.commit()
    with pytest.raises(InsufficientPoints):
        play(game.id, poor.id, key="p", now=clock.now())
    assert not db.session.new and not db.session.dirty


def test_tiers_and_segments_decide_who_may_play(member, clock, tiers):
    game = make_game(clock.now(), tiers=["gold"])
    db.session.commit()
    with pytest.raises(NotEligible):
        play(game.id, member.id, key="k", now=clock.now())
    db.session.rollback()
    other = make_game(clock.now(), segments=["loyal"])
    db.session.commit()
    with pytest.raises(NotEligible):
        play(other.id, member.id, key="k", now=clock.now())


def test_pity_after_n_plays_without_a_prize_of_value_the_next_gives_one(member, clock):
    # Almost every draw is "thanks"; after 3 of those in a row the 4th draws among prizes of value.
    game = make_game(clock.now(), pity_after=3, prizes=[("points", TOP, 1, None, 100),
                                                        ("nothing", THANKS, 1_000_000, None, None)])
    db.session.commit()
    plays = [_play(game, member, clock, f"k{n}") for n in range(8)]
    assert [p.pity for p in plays] == [False, False, False, True, False, False, False, True]
    assert [p.prize.label for p in plays] == [THANKS, THANKS, THANKS, TOP, THANKS, THANKS, THANKS, TOP]
    management.close_game(game.id, actor_id=None, now=clock.now())
    assert verify_game(game.id).ok


def test_published_odds_equal_frequencies_over_100000_draws_of_the_real_draw_function(capsys):
    """Chi-square goodness of fit of 100,000 draws (draws.draw + draws.pick, the functions a
    play uses) against the published weights; the statistic is printed for the report."""
    prizes = [draws.PrizeSpec(1, 1, 1, 1000), draws.PrizeSpec(2, 2, 20, 50), draws.PrizeSpec(3, 3, 79, 10),
              draws.PrizeSpec(4, 4, 150, 0), draws.PrizeSpec(5, 5, 250, 0)]
    total = sum(p.weight for p in prizes)
    seed = draws.new_seed()
    counts = {p.id: 0 for p in prizes}
    n = 100_000
    for i in range(n):
        member, play_no = 1 + i // 100, 1 + i % 100
        counts[draws.pick(prizes, draws.draw(seed, 7, member, play_no, total).value).id] += 1
    observed = [counts[p.id] for p in prizes]
    expected = [n * p.weight / total for p in prizes]
    statistic = odds.chi_square(observed, expected)
    p_value = odds.chi_square_p(statistic, len(prizes) - 1)
    with capsys.disabled():
        print(f"\nchi-square over {n} draws: {statistic:.3f} (4 degrees of freedom), p = {p_value:.4f}; "
              f"observed {observed}, expected {[round(e) for e in expected]}")
    assert p_value > 0.001


def test_the_chi_square_p_value_is_right():
    assert odds.chi_square_p(3.841, 1) == pytest.approx(0.05, abs=1e-4)
    assert odds.chi_square_p(11.070, 5) == pytest.approx(0.05, abs=1e-4)
    assert odds.chi_square_p(29.588, 10) == pytest.approx(0.001, abs=1e-4)


def test_rejection_sampling_leaves_no_modulo_bias():
    # With a total just over half of 2^256, about half the digests are rejected.
    seed = draws.new_seed()
    total = 2 ** 255 + 1
    results = [draws.draw(seed, 1, 1, n, total) for n in range(1, 200)]
    assert all(0 <= d.value < total for d in results)
    assert any(d.attempt > 0 for d in results)  # some were rejected and drawn again
    assert draws.draw(seed, 1, 1, 5, total) == results[4]  # deterministic


def test_verify_reproduces_every_draw_after_the_reveal_and_fails_on_a_changed_outcome(member, clock, app):
    game = make_game(clock.now(), prizes=[("points", TOP, 5, 2, 100), ("points", SMALL, 20, None, 5),
                                          ("nothing", THANKS, 75, None, None)], pity_after=4)
    other = make_user(clock.now())
    give_points(other.id, 1000, clock.now())
    db.session.commit()
    for n in range(25):
        _play(game, member, clock, f"a{n}")
        _play(game, other, clock, f"b{n}")
    with pytest.raises(NotRevealed):
        verify_game(game.id)
    runner = app.test_cli_runner()
    assert runner.invoke(args=["mall", "games", "verify", str(game.id)]).exit_code == 2  # still secret
    management.close_game(game.id, actor_id=None, now=clock.now())
    db.session.commit()
    result = runner.invoke(args=["mall", "games", "verify", str(game.id)])
    assert result.exit_code == 0, result.output
    assert "all 50 draws verified" in result.output
    # Change one stored outcome: the verifier notices.
    victim = db.session.scalars(select(GamePlay).where(GamePlay.game_id == game.id).order_by(GamePlay.id)).first()
    small = next(p for p in game.prizes if p.label == SMALL)
    thanks = next(p for p in game.prizes if p.label == THANKS)
    victim.prize_id = small.id if victim.prize_id != small.id else thanks.id
    db.session.commit()
    result = runner.invoke(args=["mall", "games", "verify", str(game.id)])
    assert result.exit_code == 1 and "MISMATCH" in result.output
    assert not verify_game(game.id).ok


def test_draws_earned_by_a_checkin_streak_and_a_first_purchase(member, clock, app):
    from mall.engagement.tasks import check_in
    app.config["MALL_TASK_STREAK_DAYS"] = 7
    streak = make_game(clock.now(), cost_kind="draw", cost_points=0, draw_task="checkin_streak", streak_days=2)
    first = make_game(clock.now(), cost_kind="draw", cost_points=0, draw_task="first_purchase")
    db.session.commit()
    with pytest.raises(NoDrawLeft):
        play(streak.id, member.id, key="k0", now=clock.now())
    db.session.rollback()
    for day in range(4):
        check_in(member.id, clock.now())
        db.session.commit()
        clock.advance(days=1)
    assert db.session.get(DrawBalance, (streak.id, member.id)).earned == 2
    first_purchase.send("engagement", member_id=member.id, now=clock.now(), store_id=None)
    first_purchase.send("engagement", member_id=member.id, now=clock.now(), store_id=None)  # once only
    db.session.commit()
    assert db.session.get(DrawBalance, (first.id, member.id)).earned == 1
    before = _balance(member.id)
    p = _play(streak, member, clock, "k1")
    assert p.used_draw and p.points_paid == 0
    assert _balance(member.id) == before + (p.prize.points or 0)
    _play(streak, member, clock, "k2")
    with pytest.raises(NoDrawLeft):
        play(streak.id, member.id, key="k3", now=clock.now())
    db.session.rollback()
    assert _failed_checks() == []


def test_a_draft_game_cannot_be_played_and_its_prizes_freeze_when_it_opens(member, clock):
    game = make_game(clock.now(), open_it=False)
    db.session.commit()
    from mall.games.play import GameNotOpen
    with pytest.raises(GameNotOpen):
        play(game.id, member.id, key="k", now=clock.now())
    db.session.rollback()
    management.open_game(game.id, actor_id=None, now=clock.now())
    with pytest.raises(management.GameNotEditable):
        management.add_prize(game.id, management.PrizeData(kind="nothing", label="x", weight=1), actor_id=None,
                             now=clock.now())


def test_a_game_needs_a_prize_that_costs_nothing(clock, tiers):
    game = make_game(clock.now(), open_it=False, prizes=[("points", TOP, 1, 5, 100), ("points", SMALL, 1, None, 5)])
    with pytest.raises(management.GameNotReady):
        management.open_game(game.id, actor_id=None, now=clock.now())


def test_many_random_tables_verify(member, clock):
    """Whatever the table, the recorded draws verify (a property over a few random games)."""
    rng = random.Random(14)
    for g in range(3):
        prizes = [("points", f"P{i}", rng.randint(1, 50), rng.choice([None, 1, 3]), rng.randint(1, 300))
                  for i in range(rng.randint(1, 4))] + [("nothing", THANKS, rng.randint(1, 50), None, None)]
        game = make_game(clock.now(), prizes=prizes, budget=rng.randint(50, 800), pity_after=rng.choice([None, 2]))
        db.session.commit()
        for n in range(15):
            _play(game, member, clock, f"{g}-{n}")
        management.close_game(game.id, actor_id=None, now=clock.now())
        assert verify_game(game.id).ok
    assert _failed_checks() == []


def test_coupon_and_red_packet_prizes_go_to_the_wallet_charged_once_to_the_game_budget(member, clock):
    from mall.games.management import PrizeData
    from mall.wallet.models import WalletItem
    from tests.wallet_world import make_spec
    spec = make_spec(clock.now(), per_member_limit=1)  # one per member: the second is refused
    game = make_game(clock.now(), open_it=False, prizes=[("nothing", THANKS, 1, None, None)])
    management.add_prize(game.id, PrizeData(kind="coupon", label="Save 20", weight=1_000_000, coupon_spec_id=spec.id),
                         actor_id=None, now=clock.now())
    management.add_prize(game.id, PrizeData(kind="red_packet", label="¥5 red packet", weight=1, packet_minor=500,
                                            cost_points=500, stock=1), actor_id=None, now=clock.now())
    management.open_game(game.id, actor_id=None, now=clock.now())
    db.session.commit()
    coupon = next(p for p in game.prizes if p.kind == "coupon")
    assert coupon.cost_points > 0  # its face value in points
    first, second, third = (_play(game, member, clock, f"k{n}") for n in range(3))
    assert first.prize.kind == "coupon" and first.wallet_item_id
    item = db.session.get(WalletItem, first.wallet_item_id)
    assert item.account_id == member.id and item.source == "game" and item.spec_id == spec.id
    # The member may hold one: the wallet refuses the second, which falls to the red packet, then to thanks.
    assert second.fallbacks == [[coupon.id, "coupon"]] and second.prize.kind == "red_packet"
    assert db.session.get(WalletItem, second.wallet_item_id).value_minor == 500
    assert third.prize.kind == "nothing"
    grants = db.session.scalars(select(DiscretionaryGrant)).all()
    assert sorted(g.points for g in grants) == sorted([coupon.cost_points, 500]) and all(g.kind == "game" for g in grants)
    assert _failed_checks() == []
    management.close_game(game.id, actor_id=None, now=clock.now())
    assert verify_game(game.id).ok


def test_points_past_their_expiry_cannot_pay_for_a_play_and_the_refusal_writes_nothing(tiers, clock):
    member = make_user(clock.now())
    give_points(member.id, 15, clock.now(), days_valid=1)
    game = make_game(clock.now())
    db.session.commit()
    clock.advance(days=2)  # the lot expired; the expiry job has not run
    with pytest.raises(InsufficientPoints):
        play(game.id, member.id, key="k", now=clock.now())
    db.session.rollback()
    assert db.session.scalar(select(func.count(GamePlay.id))) == 0
    assert db.session.scalar(select(func.count(LedgerEntry.id)).where(LedgerEntry.member_id == member.id)) == 1


def test_draws_earned_by_a_checkin_streak_credited_in_queued_batches(member, clock, app):
    from mall import settings
    from mall.engagement import burst, tasks
    streak = make_game(clock.now(), cost_kind="draw", cost_points=0, draw_task="checkin_streak", streak_days=2)
    db.session.commit()
    for _day in range(4):
        burst.credit_batch([(member.id, tasks.local_day(clock.now()), clock.now())], rewards=settings.current().tasks)
        db.session.commit()
        clock.advance(days=1)
    assert db.session.get(DrawBalance, (streak.id, member.id)).earned == 2   # days 2 and 4, as one by one
