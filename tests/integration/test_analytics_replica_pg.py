"""HQ's reporting reads go to MALL_ANALYTICS_DATABASE_URL when it is set (a second PostgreSQL
database stands in for the replica here), read-only; every write stays on the primary."""
import pytest
from flask_migrate import upgrade
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from mall import create_app
from mall.config import TestConfig
from mall.extensions import db
from mall.hq import analytics
from mall.instore.models import Store
from mall.replica import analytics_session
from tests.factories import give_points, make_tiers, make_user
from tests.services import create_pg_database, drop_pg_database


@pytest.fixture
def replica_url(pg_schema):
    url, name = create_pg_database()

    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = url

    app = create_app(Config)
    with app.app_context():
        upgrade()
        db.session.add(Store(code="R", name="Only on the replica", region="R"))
        db.session.commit()
        db.engine.dispose()
    yield url
    drop_pg_database(name)


def _store_names() -> list[str]:
    return [s.name for s in analytics.filter_choices()["stores"]]


def test_reporting_reads_use_the_replica_url_when_set_and_only_read(pg_app, replica_url, clock):
    make_tiers()
    db.session.add(Store(code="P", name="Only on the primary", region="P"))
    give_points(make_user(clock.now()).id, 500, clock.now())
    db.session.commit()
    assert _store_names() == ["Only on the primary"]  # no replica configured: the primary

    settings = {**dict(pg_app.config), "MALL_ANALYTICS_DATABASE_URL": replica_url}
    with_replica = create_app(type("WithReplica", (), settings), clock=clock)
    with with_replica.test_request_context():
        from mall.hq.views import dashboard_labels
        assert _store_names() == ["Only on the replica"]
        board = analytics.dashboard(analytics.make_filters(clock.now(), period="30d"), clock.now(),
                                    dashboard_labels())
        assert board.outstanding == 0  # the replica's ledger, not the primary's 500 points
        db.session.commit()  # the roll-up's own write went to the primary
        assert db.session.scalar(text("SELECT count(*) FROM rollup_state")) == 1
        with pytest.raises(DBAPIError, match="read-only"):
            analytics_session().execute(text("INSERT INTO stores (code, name, pickup_point) VALUES ('X', 'X', true)"))
        db.session.remove()
        db.engine.dispose()
