"""The dashboard's PostgreSQL path (one GROUPING SETS scan over rolled-up and live days)
gives the same figures as the ledger says."""
from datetime import timedelta

from mall.extensions import db
from mall.hq import analytics
from mall.instore.models import Store
from mall.engagement.earning import earn_for_purchase
from mall.points.ledger import credit_points, expire_due_points, spend_points
from tests.factories import make_tiers, make_user


def test_dashboard_figures_on_postgres(pg_app, clock):
    make_tiers()
    north, south = Store(code="N", name="North", region="N"), Store(code="S", name="South", region="S")
    db.session.add_all([north, south])
    db.session.flush()
    a, b = make_user(clock.now()), make_user(clock.now())
    earn_for_purchase(a.id, 30_000, minor_per_point=100, source="pos", key="a", now=clock.now(), store_id=north.id)
    earn_for_purchase(b.id, 10_000, minor_per_point=100, source="pos", key="b", now=clock.now(), store_id=south.id)
    credit_points(a.id, 50, reason="bonus", source="c", key="c", now=clock.now(), store_id=north.id,
                  expires_at=clock.now() + timedelta(days=1), detail={"campaign": "spring", "category": "fresh"})
    spend_points(b.id, 100, reason="redeem", source="order", key="o", now=clock.now())
    clock.advance(days=2)
    expire_due_points(clock.now())
    earn_for_purchase(b.id, 5_000, minor_per_point=100, source="pos", key="b2", now=clock.now(), store_id=south.id)
    db.session.commit()
    with pg_app.test_request_context():
        from mall.hq.views import dashboard_labels
        for _ in range(2):  # first call rolls the closed days up, the second reads them back
            board = analytics.dashboard(analytics.make_filters(clock.now(), period="30d"), clock.now(),
                                        dashboard_labels())
            db.session.commit()
            assert (board.issued, board.redeemed, board.expired, board.outstanding) == (500, 100, 50, 350)
            assert {r[0]: r[1] for r in board.charts["store"].rows} == {"North": 350, "South": 150}
            assert {r[0]: r[1] for r in board.charts["rule"].rows} == {"Points for purchases": 450, "spring": 50}
            assert {r[0]: r[1] for r in board.charts["category"].rows} == {"No category": 450, "fresh": 50}
            assert sum(r[1] for r in board.charts["trend"].rows) == 500
        south_only = analytics.dashboard(analytics.make_filters(clock.now(), period="30d", store_id=south.id),
                                         clock.now(), dashboard_labels())
        assert south_only.issued == 150
