"""The embedded Redis Cluster and Sentinel behave like real ones, and the runtime connector reaches both."""

from __future__ import annotations

import pytest
from cityos_runtime.redis_connect import RedisSettings, connect_redis
from redis.asyncio import Redis, RedisCluster
from redis.exceptions import RedisClusterException, ResponseError

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
