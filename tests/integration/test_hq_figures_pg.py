"""The dashboard's figures on PostgreSQL (GROUPING SETS, days by timezone()) are those the
SQLite tests assert on the same small world (tests/hq_figures_world.py)."""
from datetime import date

from mall.extensions import db
from mall.hq import analytics
from mall.hq.wallet_costs import wallet_costs
from tests.factories import make_tiers
from tests.hq_figures_world import make_world


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
