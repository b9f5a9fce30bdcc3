"""Rate limits and earning velocity kept in real Redis, so every worker shares them."""
import pytest

from mall import settings
from mall.extensions import db
from mall.risk import services as risk
from tests.factories import make_tiers, make_user


def test_login_attempts_are_counted_in_redis(pg_app, clock):
    make_tiers()
    make_user(clock.now(), login="target@example.com")
    db.session.commit()
    client = pg_app.test_client()
    statuses = [client.post("/login", data={"identifier": "target@example.com", "password": "wrong-pass-11"},
                            environ_base={"REMOTE_ADDR": f"198.51.100.{n}"}).status_code for n in range(6)]
    assert statuses == [422] * 5 + [429]
    keys = pg_app.extensions["mall.redis"].keys("*mall:rl*")
    assert any(b"target@example.com" in k for k in keys), keys


def test_earning_velocity_is_shared_through_redis(pg_app, clock):
    pg_app.config["MALL_RISK_VELOCITY"] = {"member": (2, 3600), "device": (50, 3600), "ip": (50, 3600)}
    settings.reload(pg_app)
    for _ in range(2):
        risk.check_earn_velocity(7, device=None, ip=None, now=clock.now())
    # Another worker (a second app on the same Redis) sees the same count.
    from mall import create_app
    other = create_app(type("OtherWorker", (), dict(pg_app.config)), clock=clock)
    with other.app_context(), pytest.raises(risk.EarningTooFast):
        risk.check_earn_velocity(7, device=None, ip=None, now=clock.now())
    assert pg_app.extensions["mall.redis"].keys("mall:risk:earn:member:7:*")
