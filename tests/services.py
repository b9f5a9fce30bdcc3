"""Real services for the integration tests: PostgreSQL and Redis on their standard ports.

A test that needs one skips when it is down, except under MALL_REQUIRE_SERVICES=1 (set by
.ci/run), where a missing service is a failure: CI never skips them silently.
"""
import os
import socket
import uuid

import pytest

PG_HOST = os.environ.get("MALL_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("MALL_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("MALL_TEST_PG_USER", "postgres")
REDIS_URL = os.environ.get("MALL_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
# A Redis Cluster instead (scripts/redis-cluster prints its URL; host:port of one master is
# enough): the Redis-backed tests then run against the cluster (scripts/test's second run).
REDIS_CLUSTER = os.environ.get("MALL_TEST_REDIS_CLUSTER") or None


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def unavailable(message: str):
    """A real service or program the test needs is missing: skip on a developer's machine,
    fail under MALL_REQUIRE_SERVICES=1 (CI), so CI never passes by skipping it."""
    if os.environ.get("MALL_REQUIRE_SERVICES") == "1":
        pytest.fail(message + " and MALL_REQUIRE_SERVICES=1", pytrace=False)
    pytest.skip(message)


def require(name: str, host: str, port: int) -> None:
    if not _reachable(host, port):
        unavailable(f"{name} is not reachable on {host}:{port}")


def create_pg_database() -> tuple[str, str]:
    """Create an empty database; return (its URL, its name)."""
    import psycopg
    require("PostgreSQL", PG_HOST, PG_PORT)
    name = f"mall_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(f"host={PG_HOST} port={PG_PORT} user={PG_USER} dbname=postgres",
                         autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}", name


def drop_pg_database(name: str) -> None:
    import psycopg
    with psycopg.connect(f"host={PG_HOST} port={PG_PORT} user={PG_USER} dbname=postgres",
                         autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def redis_cluster_url() -> str | None:
    """The cluster's redis+cluster:// URL under MALL_TEST_REDIS_CLUSTER, else None."""
    if not REDIS_CLUSTER:
        return None
    url = REDIS_CLUSTER if "://" in REDIS_CLUSTER else "redis+cluster://" + REDIS_CLUSTER
    first = url.split("://", 1)[1].split(",")[0].rpartition("@")[2]
    host, _, port = first.rpartition(":")
    require("Redis Cluster", host or "127.0.0.1", int(port or 6379))
    return url


def redis_url() -> str:
    """The Redis the tests use: MALL_TEST_REDIS_CLUSTER's cluster when set, else one Redis."""
    from urllib.parse import urlsplit
    cluster = redis_cluster_url()
    if cluster:
        return cluster
    parts = urlsplit(REDIS_URL)
    require("Redis", parts.hostname, parts.port or 6379)
    return REDIS_URL
