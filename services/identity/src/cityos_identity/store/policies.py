"""Entity-type policies, public types and sharing grants, versioned per tenant for the gateway's cache."""

from __future__ import annotations

from cityos_runtime.redis_connect import RedisClient

from cityos_identity.models import EntityPolicy, SharingGrant, policy_key
from cityos_identity.store import keys
from cityos_identity.store.keys import TenantKeys


class Policies:
    """Per-tenant policy records; sharing grants live platform-wide (they join two tenants)."""

    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis

    async def put_policy(self, policy: EntityPolicy) -> None:
        tk = TenantKeys(policy.tenant)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(tk.policies, policy.key, policy.to_json())
            pipe.incr(tk.policy_version)
            await pipe.execute()

    async def delete_policy(self, tenant: str, client_id: str, name: str) -> bool:
        tk = TenantKeys(tenant)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hdel(tk.policies, policy_key(client_id, name))
            pipe.incr(tk.policy_version)
            deleted, _ = await pipe.execute()
        return bool(deleted)

    async def list_policies(self, tenant: str) -> list[EntityPolicy]:
        raw = await self._redis.hgetall(TenantKeys(tenant).policies)
        return sorted((EntityPolicy.from_json(v) for v in raw.values()), key=lambda p: p.key)

    async def set_public_types(self, tenant: str, types: list[str]) -> None:
        tk = TenantKeys(tenant)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(tk.public)
            if types:
                pipe.sadd(tk.public, *types)
            pipe.incr(tk.policy_version)
            await pipe.execute()

    async def put_grant(self, grant: SharingGrant) -> None:
        await self._redis.hset(keys.SHARING, f"{grant.owner}|{grant.grantee}", grant.to_json())
        await self._bump(grant.owner)

    async def delete_grant(self, owner: str, grantee: str) -> bool:
        deleted = bool(await self._redis.hdel(keys.SHARING, f"{owner}|{grantee}"))
        await self._bump(owner)
        return deleted

    async def list_grants(self, owner: str = "", grantee: str = "") -> list[SharingGrant]:
        """Grants filtered by owner and/or grantee (the platform holds few: one per tenant pair at most)."""
        raw = await self._redis.hgetall(keys.SHARING)
        grants = [SharingGrant.from_json(v) for v in raw.values()]
        return sorted(
            (g for g in grants if (not owner or g.owner == owner) and (not grantee or g.grantee == grantee)),
            key=lambda g: (g.owner, g.grantee),
        )

    async def purge_grants(self, tenant: str) -> None:
        """Drop every grant the tenant gives or receives (tenant deletion)."""
        raw = await self._redis.hgetall(keys.SHARING)
        doomed = [k for k in keys.texts(raw) if tenant in k.split("|")]
        if doomed:
            await self._redis.hdel(keys.SHARING, *doomed)
            for owner in {k.split("|")[0] for k in doomed}:
                await self._bump(owner)

    async def snapshot(
        self, tenant: str
    ) -> tuple[str | None, list[EntityPolicy], list[str], list[SharingGrant], int]:
        """(tenant record JSON, policies, public types, grants given, version) in one round trip."""
        tk = TenantKeys(tenant)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hget(keys.TENANTS, tenant)
            pipe.hgetall(tk.policies)
            pipe.smembers(tk.public)
            pipe.hgetall(keys.SHARING)
            pipe.get(tk.policy_version)
            record, policies, public, sharing, version = await pipe.execute()
        grants = [SharingGrant.from_json(v) for v in sharing.values()]
        return (
            keys.text(record) if record else None,
            sorted((EntityPolicy.from_json(v) for v in policies.values()), key=lambda p: p.key),
            sorted(keys.texts(public)),
            sorted((g for g in grants if g.owner == tenant), key=lambda g: g.grantee),
            int(version or 0),
        )

    async def _bump(self, tenant: str) -> None:
        # The version is a cache key only: bumping it after the grant write is safe (a stale read
        # at worst refetches once more).
        await self._redis.incr(TenantKeys(tenant).policy_version)
