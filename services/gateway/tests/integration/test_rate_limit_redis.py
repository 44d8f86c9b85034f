"""The rate limit against a real Redis (one server and a Redis Cluster): two gateway replicas share one budget
per client."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from cityos_gateway.auth import AuthProblem
from cityos_gateway.config import RateLimit
from cityos_gateway.security.ratelimit import RateLimiter
from cityos_runtime.redis_connect import RedisClient, RedisSettings, connect_redis

pytestmark = pytest.mark.integration


@pytest.fixture
async def redis_client(redis_env: dict[str, str]) -> AsyncIterator[RedisClient]:
    client = connect_redis(RedisSettings.from_env(environ=redis_env))
    yield client
    await client.aclose()


@pytest.mark.redis_modes("standalone", "cluster")
async def test_two_replicas_share_the_budget_and_answer_429_with_retry_after(
    redis_client: RedisClient,
) -> None:
    limit = RateLimit(requests=4, window=60)
    replica_a, replica_b = RateLimiter(redis_client, limit), RateLimiter(redis_client, limit)
    client = f"client-{uuid.uuid4().hex}"
    for replica in (replica_a, replica_b, replica_a, replica_b):
        await replica.check(client)
    with pytest.raises(AuthProblem) as refused:
        await replica_b.check(client)
    assert refused.value.status == 429
    assert 1 <= int(dict(refused.value.headers)["retry-after"]) <= 60
    await replica_a.check(f"other-{uuid.uuid4().hex}")  # another client has its own budget
    keys = [key async for key in redis_client.scan_iter(match="cityos:gateway:rl:*")]
    assert keys and all(client.encode() not in key for key in keys)
    for key in keys:
        assert 0 < await redis_client.ttl(key) <= 61, "counters expire with their window"


async def test_an_unreachable_redis_lets_requests_through() -> None:
    unreachable = aioredis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    try:
        limiter = RateLimiter(unreachable, RateLimit(requests=1, window=1))
        for _ in range(3):
            await limiter.check("client")
    finally:
        await unreachable.aclose()


async def test_counting_survives_a_flushed_script_cache(redis_client: aioredis.Redis) -> None:
    limiter = RateLimiter(redis_client, RateLimit(requests=2, window=60))
    client = f"client-{uuid.uuid4().hex}"
    await limiter.check(client)
    await redis_client.script_flush()  # a Redis restart or SCRIPT FLUSH forgets the counting script
    await limiter.check(client)
    with pytest.raises(AuthProblem):
        await limiter.check(client)
