"""/healthz, the load balancer's probe (mall/health.py): 200 when the database and Redis
answer, 503 naming what failed; no session, no cookie, no login, never rate limited."""
import redis

from mall import health


class _DeadRedis:
    def ping(self):
        raise redis.ConnectionError("connection refused")


class _LiveRedis:
    def ping(self):
        return True


def test_healthz_says_ok_without_setting_a_cookie(client):
    answer = client.get("/healthz")
    assert answer.status_code == 200
    assert answer.get_json() == {"db": "ok", "redis": "off"}  # the unit suite runs without Redis
    assert "Set-Cookie" not in answer.headers and answer.headers["Cache-Control"] == "no-store"


def test_healthz_names_redis_when_it_does_not_answer(client, monkeypatch):
    monkeypatch.setattr(health, "app_redis", lambda: _DeadRedis())
    answer = client.get("/healthz")
    assert answer.status_code == 503 and answer.get_json() == {"db": "ok", "redis": "down"}
    monkeypatch.setattr(health, "app_redis", lambda: _LiveRedis())
    assert client.get("/healthz").get_json() == {"db": "ok", "redis": "ok"}


def test_healthz_names_the_database_when_it_does_not_answer(client, monkeypatch):
    monkeypatch.setattr(health, "_database_ok", lambda: False)
    answer = client.get("/healthz")
    assert answer.status_code == 503 and answer.get_json()["db"] == "down"


def test_healthz_is_never_rate_limited(client):
    assert {client.get("/healthz").status_code for _ in range(60)} == {200}
