"""REDIS_URL's three shapes (mall/locks.py), the same URLs Flask-Limiter's storage reads."""
import pytest
from redis.cluster import ClusterNode

from mall.locks import _addresses, cluster_nodes, SENTINEL_SCHEME


def test_a_cluster_url_gives_every_startup_node_and_the_password():
    nodes, password = cluster_nodes("redis+cluster://:s%40cret@10.0.0.1:7000,10.0.0.2:7001")
    assert [(n.host, n.port) for n in nodes] == [("10.0.0.1", 7000), ("10.0.0.2", 7001)]
    assert password == "s@cret" and all(isinstance(n, ClusterNode) for n in nodes)
    assert cluster_nodes("redis+cluster://127.0.0.1:7101")[1] is None


def test_a_sentinel_url_gives_the_sentinels_and_the_service():
    assert _addresses("redis+sentinel://10.0.0.1:26379,10.0.0.2:26379/mall", SENTINEL_SCHEME) == \
        ([("10.0.0.1", 26379), ("10.0.0.2", 26379)], None, "mall")


def test_a_url_without_hosts_is_refused_at_start():
    with pytest.raises(ValueError):
        cluster_nodes("redis+cluster://")
