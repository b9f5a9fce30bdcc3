"""Named mutexes with one interface over Redis and an in-process fallback.

A lock here only keeps the hot path cheap (requests queue in Redis instead of piling onto
one database row). The database stays the guard: every invariant is also a constraint or a
conditional write, so a lease that lapses during a pause can't corrupt anything.
"""
import logging
import threading
from contextlib import contextmanager

import redis

from .errors import LockUnavailable

log = logging.getLogger(__name__)


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
        except redis.RedisError as exc:
            log.warning("redis lock %s unavailable: %s", name, exc)
            raise LockUnavailable() from exc
        if not acquired:
            raise LockUnavailable()
        try:
            yield
        finally:
            try:
                lock.release()
            except redis.RedisError as exc:  # includes a lease that already lapsed
                log.warning("redis lock %s release failed: %s", name, exc)


def redis_client(redis_url: str | None) -> redis.Redis | None:
    if not redis_url:
        log.warning("REDIS_URL is not set: using in-process locks, safe for ONE process only. "
                    "Set REDIS_URL before running more than one worker.")
        return None
    # Short timeouts: a slow Redis means a quick "busy, try again", never a hung checkout.
    return redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)


def locks_for(client: redis.Redis | None):
    return RedisLocks(client) if client is not None else LocalLocks()
