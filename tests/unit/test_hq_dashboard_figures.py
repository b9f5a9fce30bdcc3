"""The HQ dashboard's figures on a small known world (tests/hq_figures_world.py): every
earning source counts as issued, a period that redeems more than it issues says so instead of
showing a bare 295%, the charts add up to the totals, periods are the shop's days, and the
category filter narrows points and coupons alike."""
from datetime import date

import pytest

from mall.hq import analytics
from mall.hq.views import dashboard_labels
from mall.hq.wallet_costs import wallet_costs
from tests.hq_figures_world import make_world


@pytest.fixture
def world(tiers, clock):
    return make_world(clock.now())


def _board(app, clock, **filters):
    with app.test_request_context():
        f = analytics.make_filters(clock.now(), period=filters.pop("period", "30d"), **filters)
        board = analytics.dashboard(f, clock.now(), dashboard_labels())
        board.wallet = wallet_costs(f, clock.now(), dashboard_labels())
        return board


def _column(board, chart, i=1):
    return {row[0]: row[i] for row in board.charts[chart].rows}


def test_a_period_that_redeems_old_points_shows_its_ratio_with_what_came_from_before(app, world, clock):
    board = _board(app, clock)
    assert (board.issued, board.redeemed, board.expired, board.taken_back) == (305, 900, 0, 100)
    assert board.redemption_rate_pct == 295.1
    assert board.redeemed_before_period == 900 - 305  # the period cannot have issued these
    assert board.outstanding == 305


def test_over_all_time_the_flows_add_up_to_the_balances_and_the_rate_stays_under_100(app, world, clock):
    board = _board(app, clock, period="all")
    assert (board.issued, board.redeemed, board.taken_back) == (1_305, 900, 100)
    assert board.issued - board.taken_back - board.redeemed - board.expired == board.outstanding
    assert board.redemption_rate_pct == 69.0 and board.redeemed_before_period == 0


def test_cost_by_store_region_category_and_rule_each_add_up_to_points_issued(app, world, clock):
    board = _board(app, clock)
    assert _column(board, "store") == {"South Store": 300, "Online and other": 5}
    assert _column(board, "region") == {"South": 300, "Online and other": 5}
    # "fresh" is a catalogue category: its name; "kitchen" is in no category table: its slug.
    assert _column(board, "category") == {"Fresh food": 200, "kitchen": 100, "No category": 5}
    assert _column(board, "rule") == {"Points for purchases": 300, "Daily check-in": 5}  # reasons, named
    for chart in ("store", "region", "category", "rule"):
        assert sum(row[1] for row in board.charts[chart].rows) == board.issued, chart
        assert sum(row[2] for row in board.charts[chart].rows) == board.cost_minor, chart
    assert sum(row[1] for row in board.charts["trend"].rows) == board.issued


def test_days_are_the_shops_days_in_rolled_up_and_live_figures(app, world, clock):
    # 23:59 on 31 May in Shanghai is a closed (rolled-up) day; 00:01 on 1 June is today (live).
    may_31 = _board(app, clock, start=date(2026, 5, 31), end=date(2026, 5, 31))
    june_1 = _board(app, clock, start=date(2026, 6, 1), end=date(2026, 6, 1))
    assert (may_31.issued, may_31.redeemed) == (200, 0)
    assert (june_1.issued, june_1.redeemed, june_1.taken_back) == (105, 900, 100)
    assert _board(app, clock, grain="day").charts["trend"].rows == [["2026-05-31", 200, 0, 0],
                                                                   ["2026-06-01", 105, 900, 0]]


def test_the_category_filter_narrows_points_and_coupons_by_the_same_slug(app, world, clock):
    fresh = _board(app, clock, category="fresh")
    assert fresh.issued == 200
    assert fresh.wallet.issued_minor == 500
    assert fresh.wallet.charts["wallet_category"].rows == [["Fresh food", 500, 0, 0]]
    assert _board(app, clock, category="kitchen").wallet.issued_minor == 0


def test_the_budget_chart_calls_its_points_charged_not_issued(app, world, clock):
    with app.test_request_context():
        assert _board(app, clock).charts["budget"].columns[1] == dashboard_labels()["points_charged"] == "Points charged"


@pytest.mark.parametrize("language, expected", [
    ("en", ["Redeemed ÷ issued in this period", "295.1%", "at least 595 of the points redeemed were issued before it",
            "Points taken back (refunded purchases)", "can exceed 100%"]),
    ("zh-CN,zh;q=0.9", ["本期兑换 ÷ 本期发放", "295.1%", "至少有 595 积分是本期之前发放的", "退回积分（已退款的购买）",
                        "可能超过 100%"]),
])
def test_the_page_explains_a_ratio_above_100_in_both_languages(client, auth, world, language, expected):
    auth.login("hq@example.com")
    page = client.get("/hq", headers={"Accept-Language": language}).get_data(as_text=True)
    for text in expected:
        assert text in page, text
    assert "Redemption rate" not in page


def test_a_period_that_issued_nothing_shows_no_ratio_and_says_where_the_points_came_from(client, auth, world, clock):
    # Alice's "home" points were issued 40 days ago; the last 30 days issued no "home" points
    # and redeemed 900 of them.
    auth.login("hq@example.com")
    page = client.get("/hq?category=home").get_data(as_text=True)
    figures = page.split('<dl class="figures">')[1].split("</dl>")[0]
    assert "Redeemed ÷ issued in this period</dt><dd>–</dd>" in figures
    assert "Nothing was issued in the period: the 900 points redeemed were all issued before it." in figures
    assert "Above 100%" not in figures and "0.0%" not in figures



def test_game_prizes_cost_what_the_games_tables_say(app, tiers, clock):
    """Points prizes are points issued (rule "game_prize"), red-packet prizes are wallet value
    issued, both are charged to the game's budget in the budget chart, and the plays' cost is
    points redeemed: as much as the games tables say was awarded."""
    from sqlalchemy import func, select

    from mall.extensions import db
    from mall.games import management
    from mall.games.management import PrizeData
    from mall.games.models import GamePlay, GamePrize
    from mall.games.play import play
    from tests.factories import give_points, make_user
    from tests.games_world import make_game
    now = clock.now()
    member = make_user(now)
    give_points(member.id, 1_000, now)
    points_game = make_game(now, prizes=[("points", "Fifty", 1, None, 50), ("nothing", "Thanks", 1, None, None)])
    packet_game = make_game(now, prizes=[("nothing", "Thanks", 1, None, None)], open_it=False)
    management.add_prize(packet_game.id, PrizeData(kind="red_packet", label="¥3", weight=1, packet_minor=300),
                         actor_id=packet_game.created_by, now=now)
    management.open_game(packet_game.id, actor_id=packet_game.created_by, now=now)
    for n in range(6):
        play(points_game.id, member.id, key=f"p{n}", now=now)
        play(packet_game.id, member.id, key=f"r{n}", now=now)
    db.session.commit()
    won = dict(db.session.execute(select(GamePrize.kind, func.sum(GamePrize.awarded)).group_by(GamePrize.kind)).all())
    plays = db.session.scalar(select(func.count(GamePlay.id)))
    board = _board(app, clock)
    assert plays == 12 and board.redeemed == 12 * 10
    assert _column(board, "rule").get("Game prizes", 0) == 50 * won["points"]
    assert board.issued == 1_000 + 50 * won["points"]
    assert board.wallet.issued_minor == 300 * won["red_packet"]
    games = [points for name, points, _cost in board.charts["budget"].rows if name.startswith("Game:")]
    assert sum(games) == 50 * won["points"] + 300 * won["red_packet"], board.charts["budget"].rows
