"""Named mutexes with one interface over Redis and an in-process fallback.

A lock here only keeps the hot path cheap (requests queue in Redis instead of piling onto
one database row). The database stays the guard: every invariant is also a constraint or a
conditional write, so a lease that lapses during a pause can't corrupt anything.
"""
import logging
import threading
import time
from contextlib import contextmanager
from urllib.parse import unquote

import redis
from flask import current_app
from redis.cluster import ClusterNode, RedisCluster
from redis.exceptions import SlotNotCoveredError
from redis.sentinel import Sentinel

from .errors import LockUnavailable

log = logging.getLogger(__name__)

# What "Redis is unavailable" looks like: redis-py's errors, plus a Redis Cluster whose slot
# has no reachable master (not a RedisError). A cross-slot call is a bug, not an outage:
# its RedisClusterException is left to surface.
UNAVAILABLE = (redis.RedisError, SlotNotCoveredError)


class LocalLocks:
    """One process only. Used when REDIS_URL is unset (the embedded demo, the unit suite)."""

    def __init__(self):
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    @contextmanager
    def hold(self, name: str, *, ttl: float = 10, wait: float = 5):
        with self._guard:
            lock = self._locks.setdefault(name, threading.Lock())
        if not lock.acquire(timeout=wait):
            raise LockUnavailable()
        try:
            yield
        finally:
            lock.release()


class RedisLocks:
    """Leases in Redis, so every gunicorn worker and app server shares them."""

    def __init__(self, client: redis.Redis):
        self.client = client

    @contextmanager
    def hold(self, name: str, *, ttl: float = 10, wait: float = 5):
        lock = self.client.lock(f"mall:lock:{name}", timeout=ttl, blocking_timeout=wait)
        try:
            acquired = lock.acquire()
        except UNAVAILABLE as exc:
            log.warning("redis lock %s unavailable: %s", name, exc)
            raise LockUnavailable() from exc
        if not acquired:
            raise LockUnavailable()
        try:
            yield
        finally:
            try:
                lock.release()
            except UNAVAILABLE as exc:  # includes a lease that already lapsed
                log.warning("redis lock %s release failed: %s", name, exc)


# Flask-Limiter's (limits') schemes for the same deployments, so one REDIS_URL serves both.
CLUSTER_SCHEME = "redis+cluster://"
SENTINEL_SCHEME = "redis+sentinel://"


def _addresses(redis_url: str, scheme: str) -> tuple[list[tuple[str, int]], str | None, str]:
    """(host, port) pairs, password and path of scheme[:password@]host:port[,host:port...][/path]."""
    rest, _, path = redis_url[len(scheme):].partition("/")
    credentials, _, hosts = rest.rpartition("@")
    password = unquote(credentials.partition(":")[2]) or None if credentials else None
    addresses = []
    for address in filter(None, hosts.split(",")):
        host, _, port = address.rpartition(":")
        addresses.append((host or "127.0.0.1", int(port or 6379)))
    if not addresses:
        raise ValueError(f"no host:port in {scheme} URL")
    return addresses, password, path


def cluster_nodes(redis_url: str) -> tuple[list[ClusterNode], str | None]:
    """The startup nodes and password of redis+cluster://[:password@]host:port[,host:port...]."""
    addresses, password, _path = _addresses(redis_url, CLUSTER_SCHEME)
    return [ClusterNode(host, port) for host, port in addresses], password


def sentinel_master(redis_url: str) -> redis.Redis:
    """The current master of redis+sentinel://[:password@]host:port[,host:port...]/SERVICE,
    as Sentinel names it: after a failover the client finds the new master by itself."""
    addresses, password, service = _addresses(redis_url, SENTINEL_SCHEME)
    if not service:
        raise ValueError("redis+sentinel:// URL names no service (…/mymaster)")
    sentinel = Sentinel(addresses, socket_timeout=2, socket_connect_timeout=2)
    return sentinel.master_for(service.strip("/"), password=password, socket_timeout=2, socket_connect_timeout=2)


def redis_client(redis_url: str | None) -> redis.Redis | RedisCluster | None:
    """redis://... gives one Redis; redis+sentinel://.../SERVICE the master Sentinel names;
    redis+cluster://... a Redis Cluster client (keys that a script touches together carry
    one {hash tag}, see mall/inventory/admission.py)."""
    if not redis_url:
        log.warning("REDIS_URL is not set: using in-process locks, safe for ONE process only. "
                    "Set REDIS_URL before running more than one worker.")
        return None
    # Short timeouts: a slow Redis means a quick "busy, try again", never a hung checkout.
    if redis_url.startswith(CLUSTER_SCHEME):
        nodes, password = cluster_nodes(redis_url)
        return RedisCluster(startup_nodes=nodes, password=password, socket_timeout=2, socket_connect_timeout=2)
    if redis_url.startswith(SENTINEL_SCHEME):
        return sentinel_master(redis_url)
    return redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)


def locks_for(client: redis.Redis | None):
    return RedisLocks(client) if client is not None else LocalLocks()


# --- the running app's instances (set up by create_app; bound to the app like db.session) ---

def app_locks():
    return current_app.extensions["mall.locks"]


def app_redis() -> redis.Redis | RedisCluster | None:
    return current_app.extensions.get("mall.redis")


class LocalCounter:
    """Fixed-window counters for one process (no REDIS_URL), like the in-process locks."""

    def __init__(self):
        self._lock, self._counts = threading.Lock(), {}

    def incr(self, key: str, ttl: int) -> int:
        with self._lock:
            now = time.monotonic()
            self._counts = {k: v for k, v in self._counts.items() if v[1] > now}
            count, expires = self._counts.get(key, (0, now + ttl))
            self._counts[key] = (count + 1, expires)
            return count + 1


def count_in_window(key: str, ttl: int) -> int:
    """Add one to a counter that lives `ttl` seconds from its first count; returns the count.
    Redis when configured (0 when Redis fails: a counter must never stop the work it counts)."""
    client = app_redis()
    if client is None:
        return current_app.extensions.setdefault("mall.counters", LocalCounter()).incr(key, ttl)
    try:
        pipe = client.pipeline()
        pipe.incr(key)
        pipe.expire(key, ttl, nx=True)
        return pipe.execute()[0]
    except UNAVAILABLE:
        return 0
