"""OAuth clients and API keys of a tenant, in the tenant's hash slot."""

from __future__ import annotations

from cityos_runtime.problems import ProblemError
from cityos_runtime.redis_connect import RedisClient

from cityos_identity.models import ApiKey, Client, client_tenant
from cityos_identity.store.atomic import update_json
from cityos_identity.store.keys import TenantKeys


class Principals:
    """Clients (`<tenant>.<random>` ids) and API keys (`ck.<tenant>.<key id>.<secret>`)."""

    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis

    async def create_client(self, client: Client) -> None:
        if not await self._redis.hsetnx(
            TenantKeys(client.tenant).clients, client.client_id, client.to_json()
        ):
            raise ProblemError("AlreadyExists", f"client {client.client_id!r} already exists")

    async def get_client(self, client_id: str) -> Client | None:
        tenant = client_tenant(client_id)
        if not tenant:
            return None
        raw = await self._redis.hget(TenantKeys(tenant).clients, client_id)
        return Client.from_json(raw) if raw else None

    async def list_clients(self, tenant: str) -> list[Client]:
        raw = await self._redis.hgetall(TenantKeys(tenant).clients)
        return sorted((Client.from_json(v) for v in raw.values()), key=lambda c: c.client_id)

    async def delete_client(self, client_id: str) -> bool:
        tenant = client_tenant(client_id)
        if not tenant:
            return False
        return bool(await self._redis.hdel(TenantKeys(tenant).clients, client_id))

    async def create_api_key(self, key: ApiKey) -> None:
        if not await self._redis.hsetnx(TenantKeys(key.tenant).apikeys, key.key_id, key.to_json()):
            raise ProblemError("AlreadyExists", f"API key {key.key_id!r} already exists")

    async def get_api_key(self, tenant: str, key_id: str) -> ApiKey | None:
        raw = await self._redis.hget(TenantKeys(tenant).apikeys, key_id)
        return ApiKey.from_json(raw) if raw else None

    async def list_api_keys(self, tenant: str) -> list[ApiKey]:
        raw = await self._redis.hgetall(TenantKeys(tenant).apikeys)
        return sorted((ApiKey.from_json(v) for v in raw.values()), key=lambda k: k.key_id)

    async def revoke_api_key(self, tenant: str, key_id: str) -> ApiKey | None:
        """Mark a key revoked atomically; None when it does not exist."""

        def revoke(key: ApiKey) -> None:
            key.revoked = True

        return await update_json(self._redis, TenantKeys(tenant).apikeys, key_id, ApiKey.from_json, revoke)
