"""Rate limits and earning velocity kept in real Redis, so every worker shares them."""
import pytest

from mall import settings
from mall.extensions import db
from mall.risk import services as risk
from tests.factories import PASSWORD, make_tiers, make_user


def test_login_attempts_are_counted_in_redis(pg_app, clock):
    make_tiers()
    make_user(clock.now(), login="target@example.com")
    db.session.commit()
    client = pg_app.test_client()
    statuses = [client.post("/login", data={"identifier": "target@example.com", "password": "wrong-pass-11"},
                            environ_base={"REMOTE_ADDR": f"198.51.100.{n}"}).status_code for n in range(6)]
    assert statuses == [422] * 5 + [429]
    keys = list(pg_app.extensions["mall.redis"].scan_iter(match="*mall:rl*"))
    assert any(b"target@example.com" in k for k in keys), keys


def test_the_login_slow_down_is_kept_in_redis_and_lets_the_owner_in_within_the_bound(pg_app, clock):
    make_tiers()
    make_user(clock.now(), login="owner@example.com")
    db.session.commit()
    attacker, owner = pg_app.test_client(), pg_app.test_client()

    def attempt(client, password, ip):
        return client.post("/login", data={"identifier": "owner@example.com", "password": password},
                           environ_base={"REMOTE_ADDR": ip})
    statuses = []
    for n in range(40):  # 15 wrong passwords from many addresses, waiting as told
        response = attempt(attacker, "wrong-pass-11", f"203.0.113.{n}")
        statuses.append(response.status_code)
        if response.status_code == 429:
            assert int(response.headers["Retry-After"]) <= 30
            clock.advance(seconds=int(response.headers["Retry-After"]))
        elif statuses.count(422) == 15:
            break
    assert statuses[:6] == [422] * 5 + [429] and statuses[-1] == 422
    # Another worker (a second app on the same Redis) sees the same slow-down.
    from mall import create_app
    other = create_app(type("OtherWorker", (), dict(pg_app.config)), clock=clock)
    assert attempt(other.test_client(), PASSWORD, "192.0.2.7").status_code == 429
    refused = attempt(owner, PASSWORD, "192.0.2.7")
    assert refused.status_code == 429  # not counted: the owner's wait stays within the bound
    clock.advance(seconds=int(refused.headers["Retry-After"]))
    assert attempt(owner, PASSWORD, "192.0.2.7").status_code == 302


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
    assert list(pg_app.extensions["mall.redis"].scan_iter(match="mall:risk:earn:member:7:*"))
