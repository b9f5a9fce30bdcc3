"""The dashboard's figures on PostgreSQL (GROUPING SETS, days by timezone()) are those the
SQLite tests assert on the same small world (tests/hq_figures_world.py)."""
from datetime import date, timedelta

from flask_babel import force_locale

from mall.budgets.models import ProgrammeBudget
from mall.engagement.rulebook import RuleDraft, save_rule
from mall.extensions import db
from mall.hq import analytics
from mall.hq.names import hq_names
from mall.hq.wallet_costs import wallet_costs
from mall.points.ledger import credit_points
from mall.wallet.models import WalletItem
from tests.factories import make_tiers
from tests.games_world import make_game
from tests.hq_figures_world import SHOP_DAY_START, make_world


def _board(app, clock, **filters):
    from mall.hq.views import dashboard_labels
    with app.test_request_context():
        f = analytics.make_filters(clock.now(), period=filters.pop("period", "30d"), **filters)
        board = analytics.dashboard(f, clock.now(), dashboard_labels())
        board.wallet = wallet_costs(f, clock.now(), dashboard_labels())
        db.session.commit()
        return board


def test_figures_ratios_sums_and_shop_days_on_postgres(pg_app, clock):
    make_tiers()
    make_world(clock.now())
    for _ in range(2):  # the first call rolls the closed days up, the second reads them back
        board = _board(pg_app, clock)
        assert (board.issued, board.redeemed, board.expired, board.taken_back) == (305, 900, 0, 100)
        assert (board.redemption_rate_pct, board.redeemed_before_period, board.outstanding) == (295.1, 595, 305)
        assert {r[0]: r[1] for r in board.charts["category"].rows} == {"Fresh food": 200, "kitchen": 100,
                                                                           "No category": 5}
        for chart in ("store", "region", "category", "rule", "trend"):
            assert sum(row[1] for row in board.charts[chart].rows) == 305, chart
    everything = _board(pg_app, clock, period="all")
    assert everything.issued - everything.taken_back - everything.redeemed == everything.outstanding
    assert _board(pg_app, clock, start=date(2026, 5, 31), end=date(2026, 5, 31)).issued == 200
    assert _board(pg_app, clock, start=date(2026, 6, 1), end=date(2026, 6, 1)).issued == 105
    fresh = _board(pg_app, clock, category="fresh")
    assert (fresh.issued, fresh.wallet.issued_minor) == (200, 500)


def test_names_in_chinese_on_postgres(pg_app, clock):
    """names.py's one UNION ALL (categories, rules by key and by name, games) and the wallet's
    campaign_zh column run on PostgreSQL; a zh reader gets the Chinese names."""
    from mall.hq.views import dashboard_labels
    make_tiers()
    now = clock.now()
    world = make_world(now)
    world["south"].name_zh = "南区店"
    rule = save_rule(RuleDraft(kind="campaign", name="Spring x2", name_zh="春季双倍", value=200,
                               starts_at=now - timedelta(days=1), ends_at=now + timedelta(days=30)),
                     actor_id=world["hq"].id, now=now)
    credit_points(world["bob"].id, 40, reason="purchase", source="pos", key="promo", now=SHOP_DAY_START,
                  expires_at=now + timedelta(days=300), detail={"campaign": "Spring x2"})
    game = make_game(now)
    db.session.query(WalletItem).filter_by(name="Fresh ¥5").update({"name_zh": "生鲜立减5元"})
    db.session.add(ProgrammeBudget(scope="campaign", target=rule.rule_key, name=f"Campaign: {rule.rule_key}",
                                   monthly_points=500, when_exhausted="hold", updated_at=now))
    db.session.commit()
    with pg_app.test_request_context(), force_locale("zh_Hans"):
        names = hq_names(chinese=True)
        f = analytics.make_filters(now, period="30d")
        board = analytics.dashboard(f, now, dashboard_labels(), names)
        wallet = wallet_costs(f, now, dashboard_labels(), names)
        budgets = {line.budget.target: line.name for line in analytics.programme_budget_status(now, names)}
        db.session.commit()
    assert {"消费积分", "每日签到", "春季双倍"} <= {r[0] for r in board.charts["rule"].rows}
    assert "南区店" in {r[0] for r in board.charts["store"].rows}
    assert "生鲜立减5元" in {r[0] for r in wallet.charts["wallet_campaign"].rows}
    assert budgets[rule.rule_key] == "规则：春季双倍" and budgets[str(game.id)] == "游戏：幸运盲盒"
