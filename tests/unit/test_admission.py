"""Redis admission when Redis is unavailable: a clear refusal, and a log line that says so
(rate-limited, so an outage during a flash sale is one line a minute, not one per tap)."""
import logging

import pytest
import redis

from mall.errors import LockUnavailable
from mall.inventory import admission as admission_module
from mall.inventory.admission import RedisAdmission
from mall.inventory.reservations import Want


class DeadRedis:
    """A Redis client whose server is gone: every call fails as redis-py's would."""

    def register_script(self, script):
        def run(**kwargs):
            raise redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
        return run

    def __getattr__(self, name):
        return self.register_script(None)


def _tap(admission):
    with pytest.raises(LockUnavailable):
        with admission.admit([Want(1, 1)], lambda item_id: 5):
            raise AssertionError("admitted without Redis")


def test_refusals_while_redis_is_down_are_logged_once_per_interval(caplog):
    caplog.set_level(logging.WARNING, logger=admission_module.__name__)
    moments = iter([1000.0, 1001.0, 1002.0, 1003.0, 1000.0 + admission_module.LOG_EVERY_SECONDS + 1])
    dead = RedisAdmission(DeadRedis())
    dead.refusals.clock = lambda: next(moments)
    for _ in range(5):
        _tap(dead)
    lines = [r.getMessage() for r in caplog.records if r.name == admission_module.__name__]
    assert len(lines) == 2, lines
    assert "refused 1 checkout" in lines[0] and "Redis unavailable" in lines[0]
    assert "refused 4 checkout" in lines[1]  # the quiet interval's refusals are counted, not lost


class SlotlessCluster(DeadRedis):
    """A Redis Cluster whose slot has no reachable master: redis-py raises an error that is
    not a RedisError."""

    def register_script(self, script):
        def run(**kwargs):
            raise redis.exceptions.SlotNotCoveredError("Command # 1 (EVALSHA) slot is not covered")
        return run


def test_a_cluster_slot_with_no_master_is_a_clear_busy_refusal_too():
    _tap(RedisAdmission(SlotlessCluster()))
