"""The app on a Redis Cluster (scripts/redis-cluster; MALL_TEST_REDIS_CLUSTER): the cluster
client everywhere, and every Redis call that touches several keys keeps them in one hash
slot. scripts/test runs this file (with the concurrency tests) in its cluster pass; on one
Redis there is nothing here to prove, so it is skipped there."""
import pytest
from limits.storage import RedisClusterStorage
from redis.cluster import RedisCluster
from redis.exceptions import RedisClusterException

from mall.extensions import limiter
from mall.inventory import admission as admission_module
from mall.inventory.admission import INTENT_KEY, KEY, app_admission
from mall.locks import app_locks, app_redis
from tests.services import REDIS_CLUSTER

pytestmark = pytest.mark.skipif(not REDIS_CLUSTER, reason="the cluster pass only (MALL_TEST_REDIS_CLUSTER)")


def test_the_locks_admission_and_rate_limits_use_the_cluster_client(pg_app):
    assert isinstance(app_redis(), RedisCluster)
    assert isinstance(limiter.storage, RedisClusterStorage)
    with app_locks().hold("member:1"):
        pass
    assert limiter.storage.check()


def test_an_items_counter_and_its_admitted_submits_share_one_hash_slot(pg_app):
    client = app_redis()
    counter, mark = KEY.format(item_id=42), INTENT_KEY.format(item_id=42, intent="7:abc")
    assert client.keyslot(counter) == client.keyslot(mark)
    # Different items are still spread over the masters (not one hot slot for every item).
    assert len({client.keyslot(KEY.format(item_id=i)) for i in range(1, 50)}) > 1


def test_the_sold_out_gate_reads_counter_and_mark_in_one_call_on_the_cluster(pg_app):
    """Would fail with a cross-slot error if the keys lost their {item:<id>} hash tag."""
    client, admission = app_redis(), app_admission()
    client.set(KEY.format(item_id=42), 0)
    assert admission.gate(42, "7:abc") is True          # sold out, this submit never admitted
    client.set(INTENT_KEY.format(item_id=42, intent="7:abc"), 1)
    assert admission.gate(42, "7:abc") is False         # its twin was admitted: let it through
    assert admission.gate(42, None) is True


def test_without_hash_tags_the_same_call_is_refused_as_cross_slot(pg_app, monkeypatch):
    """The check above has teeth: untagged keys land in different slots, and the cluster
    client refuses the script before it reaches Redis."""
    monkeypatch.setattr(admission_module, "KEY", "mall:stock:{item_id}")
    monkeypatch.setattr(admission_module, "INTENT_KEY", "mall:admitted:{intent}")
    client = app_redis()
    assert client.keyslot("mall:stock:42") != client.keyslot("mall:admitted:7:abc")
    with pytest.raises(RedisClusterException, match="same key slot|CROSSSLOT"):
        app_admission().gate(42, "7:abc")
