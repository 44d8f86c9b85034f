"""Two replicas over one Redis: scheduled rotation happens once, and either replica verifies the other's
tokens (the JWKS is shared and refetched on an unknown kid)."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
from cityos.identity.v1 import identity_pb2 as pb
from cityos_identity.browser import bearer
from cityos_identity.store import keys
from cityos_runtime.redis_connect import RedisSettings, connect_redis

# Also on a Redis Cluster (cityos_devtools: redis_env), where cross-slot commands fail.
pytestmark = [pytest.mark.integration, pytest.mark.redis_modes("standalone", "cluster")]


async def test_scheduled_rotation_runs_on_exactly_one_replica(
    env: Any, redis_env: dict[str, str], unique_tenant: str, running_identity: Any
) -> None:
    async with running_identity(redis_env["REDIS_URL"], unique_tenant, **redis_env) as (second, second_stub):
        first = env.server
        redis = connect_redis(RedisSettings.from_env(environ=redis_env), decode_responses=True)
        try:
            current = await redis.get(keys.SIGNING_CURRENT)
            record = orjson.loads(await redis.hget(keys.SIGNING_KEYS, current))
            record["created_at"] = 0  # make the current key overdue on both replicas
            await redis.hset(keys.SIGNING_KEYS, current, orjson.dumps(record).decode())
            results = await asyncio.gather(
                first.keyring.rotate_if_due(force=False), second.keyring.rotate_if_due(force=False)
            )
            rotated = [kid for kid in results if kid]
            assert len(rotated) == 1
            assert await redis.get(keys.SIGNING_CURRENT) == rotated[0]
        finally:
            await redis.aclose()
        # The admin token was signed before the rotation: the other replica still accepts it.
        tenants = await second_stub.ListTenants(pb.ListTenantsRequest(), metadata=bearer(env.admin))
        assert env.tenant in [t.name for t in tenants.tenants]
