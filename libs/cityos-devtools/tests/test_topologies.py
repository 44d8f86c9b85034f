"""The embedded Redis Cluster and Sentinel behave like real ones, and the runtime connector reaches both."""

from __future__ import annotations

from pathlib import Path

import pytest
from cityos_devtools.embedded_topologies import EmbeddedSentinel
from cityos_devtools.polling import poll_until
from cityos_runtime.redis_connect import RedisSettings, connect_redis
from redis.asyncio import Redis, RedisCluster
from redis.exceptions import ConnectionError, ReadOnlyError, RedisClusterException, ResponseError

pytestmark = pytest.mark.integration


async def test_cluster_spreads_slots_and_refuses_cross_slot_commands(redis_cluster: dict[str, str]) -> None:
    client = connect_redis(RedisSettings.from_env(environ=redis_cluster), decode_responses=True)
    assert isinstance(client, RedisCluster)
    try:
        await client.initialize()
        assert len(client.get_primaries()) == 3
        # Keys on the three primaries: MOVED redirects are followed by the client.
        for key in ("{a}:k", "{b}:k", "{c}:k"):
            await client.set(key, key)
            assert await client.get(key) == key
        # Same hash tag: one slot, so a multi-key command works.
        assert await client.mget("{a}:k", "{a}:missing") == ["{a}:k", None]
        # Different slots: refused by the client, and by the server itself when a node is asked directly.
        with pytest.raises(RedisClusterException, match="same key slot"):
            await client.execute_command("SUNIONSTORE", "{a}:dest", "{a}:k", "{b}:k")
        node = Redis.from_url(redis_cluster["REDIS_URL"])
        try:
            with pytest.raises(ResponseError, match="hash to the same slot"):  # CROSSSLOT
                await node.sunionstore("{a}:dest", ["{a}:k", "{b}:k"])
        finally:
            await node.aclose()
    finally:
        await client.aclose()


async def test_sentinel_resolves_the_primary_with_its_password(redis_sentinel: dict[str, str]) -> None:
    client = connect_redis(RedisSettings.from_env(environ=redis_sentinel), decode_responses=True)
    try:
        await client.set("through-sentinel", "yes")
        assert await client.get("through-sentinel") == "yes"
        info = await client.info("replication")
        assert info["role"] == "master"
    finally:
        await client.aclose()


async def test_a_client_follows_a_sentinel_failover(tmp_path: Path) -> None:
    with EmbeddedSentinel(tmp_path, replica=True) as topology:
        assert topology.sentinel is not None and topology.replica is not None
        client = connect_redis(RedisSettings.from_env(environ=topology.env), decode_responses=True)
        sentinel = Redis(host="127.0.0.1", port=topology.sentinel.port, decode_responses=True)
        try:
            await client.set("k", "before")

            async def replica_known() -> bool:
                replicas = await sentinel.sentinel_slaves(topology.master_name)
                return any(r.get("master-link-status") == "ok" for r in replicas)

            # Sentinel learns of replicas from the primary's INFO, every 10 s at most.
            await poll_until(replica_known, "the sentinel to know the replica", timeout=30)
            await sentinel.execute_command("SENTINEL", "FAILOVER", topology.master_name)

            async def promoted() -> bool:
                _host, port = await sentinel.sentinel_get_master_addr_by_name(topology.master_name)
                return int(port) == topology.replica.port

            await poll_until(promoted, "the replica to be promoted", timeout=30)

            async def writes_again() -> bool:
                try:
                    await client.set("k", "after")
                except (ConnectionError, ReadOnlyError):
                    return False  # the old primary answered READONLY once; the next call re-resolves
                return True

            await poll_until(writes_again, "a write through the new primary", timeout=30)
            assert await client.get("k") == "after"
            assert (await client.info("replication"))["role"] == "master"
        finally:
            await sentinel.aclose()
            await client.aclose()
