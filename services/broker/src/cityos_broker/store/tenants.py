"""Tenants the broker knows (`cityos:tenants`): ensure, look up, list and purge."""

from __future__ import annotations

import time

from cityos_runtime.redis_connect import RedisClient

from cityos_broker.store.keys import TENANTS_KEY, TenantKeys, as_text, validate_tenant

_PURGE_BATCH = 500


class TenantRegistry:
    """The tenant set, with a short positive cache so a read costs no extra round trip."""

    def __init__(self, redis: RedisClient, *, cache_seconds: float = 5.0) -> None:
        self._redis = redis
        self._cache_seconds = cache_seconds
        # tenant -> monotonic deadline of the cached "exists" answer; per instance, never module-global.
        self._known: dict[str, float] = {}

    def _remember(self, tenant: str) -> None:
        if len(self._known) > 10_000:
            self._known.clear()
        self._known[tenant] = time.monotonic() + self._cache_seconds

    async def exists(self, tenant: str) -> bool:
        """True when the tenant is known (answers from the cache for a few seconds after a check)."""
        deadline = self._known.get(tenant)
        if deadline is not None and deadline > time.monotonic():
            return True
        found = bool(await self._redis.sismember(TENANTS_KEY, tenant))
        if found:
            self._remember(tenant)
        return found

    async def ensure(self, tenant: str) -> bool:
        """Make the tenant known; True when it was new."""
        added = bool(await self._redis.sadd(TENANTS_KEY, validate_tenant(tenant)))
        self._remember(tenant)
        return added

    async def list(self) -> list[str]:
        """Every known tenant, sorted."""
        return sorted(as_text(m) for m in await self._redis.smembers(TENANTS_KEY))

    async def purge(self, tenant: str) -> bool:
        """Delete every key of the tenant (SCAN on its hash tag, in batches) and forget it."""
        keys = TenantKeys(validate_tenant(tenant))
        existed = bool(await self._redis.srem(TENANTS_KEY, tenant))
        self._known.pop(tenant, None)
        batch: list[bytes | str] = []
        async for key in self._redis.scan_iter(match=keys.match_all(), count=_PURGE_BATCH):
            batch.append(key)
            if len(batch) >= _PURGE_BATCH:
                await self._redis.unlink(*batch)
                batch.clear()
        if batch:
            await self._redis.unlink(*batch)
        return existed
