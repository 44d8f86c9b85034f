"""Tenants and users in Redis: atomic creates, tenant purge, memberships, login-failure windows."""

from __future__ import annotations

import time
from collections.abc import Callable

from cityos_runtime.problems import ProblemError
from cityos_runtime.redis_connect import RedisClient, RedisPipeline

from cityos_identity.models import Tenant, User
from cityos_identity.store import keys
from cityos_identity.store.atomic import update_json

# Drop a tenant's membership from every member user, then the member index (all platform-slot keys).
_PURGE_MEMBERS = """
local ids = redis.call('SMEMBERS', KEYS[2])
for _, id in ipairs(ids) do
  local raw = redis.call('HGET', KEYS[1], id)
  if raw then
    local user = cjson.decode(raw)
    if type(user['memberships']) == 'table' then
      user['memberships'][ARGV[1]] = nil
      if next(user['memberships']) == nil then user['memberships'] = cjson.decode('{}') end
    end
    redis.call('HSET', KEYS[1], id, cjson.encode(user))
  end
end
redis.call('DEL', KEYS[2])
return #ids
"""


# KEYS = usernames, users, member sets...; ARGV = username, user id, user JSON. Returns 0 when taken.
_CREATE_USER = """
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
for i = 3, #KEYS do redis.call('SADD', KEYS[i], ARGV[2]) end
return 1
"""


class Directory:
    """Tenant and user records (platform-wide, one hash tag) plus per-user failure windows."""

    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis
        self._purge_members = redis.register_script(_PURGE_MEMBERS)
        self._create_user = redis.register_script(_CREATE_USER)

    # ---- tenants ----

    async def create_tenant(self, tenant: Tenant) -> Tenant:
        """Store a new tenant; AlreadyExists when the name is taken (also by a deleted tenant)."""
        now = int(time.time())
        tenant.created_at = tenant.updated_at = now
        if not await self._redis.hsetnx(keys.TENANTS, tenant.name, tenant.to_json()):
            raise ProblemError("AlreadyExists", f"tenant {tenant.name!r} already exists")
        return tenant

    async def get_tenant(self, name: str) -> Tenant | None:
        raw = await self._redis.hget(keys.TENANTS, name)
        return Tenant.from_json(raw) if raw else None

    async def require_tenant(self, name: str, *, live: bool = True) -> Tenant:
        """The tenant, or NonexistentTenant (also for a deleted one when `live`)."""
        tenant = await self.get_tenant(name)
        if tenant is None or (live and tenant.state == "deleted"):
            raise ProblemError("NonexistentTenant", f"tenant {name!r} does not exist")
        return tenant

    async def list_tenants(self) -> list[Tenant]:
        raw = await self._redis.hgetall(keys.TENANTS)
        return sorted((Tenant.from_json(v) for v in raw.values()), key=lambda t: t.name)

    async def update_tenant(self, name: str, change: Callable[[Tenant], None]) -> Tenant | None:
        """Apply `change` to a tenant atomically (optimistic concurrency); None when it does not exist."""

        def stamped(tenant: Tenant) -> None:
            change(tenant)
            tenant.updated_at = int(time.time())

        return await update_json(self._redis, keys.TENANTS, name, Tenant.from_json, stamped)

    async def purge_tenant(self, name: str) -> None:
        """Delete a (deleted-marked) tenant's identity data: clients, API keys, policies, memberships."""
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(*keys.TenantKeys(name).all())
            await pipe.execute()
        await self._purge_members(keys=[keys.USERS, keys.members(name)], args=[name])

    # ---- users ----

    async def create_user(self, user: User) -> User:
        """Store a new user, its username and memberships atomically; AlreadyExists when the name is taken."""
        user.created_at = int(time.time())
        member_keys = [keys.members(t) for t in user.memberships]
        created = await self._create_user(
            keys=[keys.USERNAMES, keys.USERS, *member_keys], args=[user.username, user.id, user.to_json()]
        )
        if not created:
            raise ProblemError("AlreadyExists", f"username {user.username!r} is taken")
        return user

    async def update_user(self, user_id: str, change: Callable[[User], None]) -> User | None:
        """Apply `change` to a user and its membership index atomically; None when it does not exist."""

        def reindex(pipe: RedisPipeline, before: User, after: User) -> None:
            for tenant in set(before.memberships) - set(after.memberships):
                pipe.srem(keys.members(tenant), after.id)
            for tenant in after.memberships:
                pipe.sadd(keys.members(tenant), after.id)

        return await update_json(self._redis, keys.USERS, user_id, User.from_json, change, reindex)

    async def get_user(self, user_id: str) -> User | None:
        raw = await self._redis.hget(keys.USERS, user_id)
        return User.from_json(raw) if raw else None

    async def find_user(self, username: str) -> User | None:
        user_id = await self._redis.hget(keys.USERNAMES, username)
        return await self.get_user(keys.text(user_id)) if user_id else None

    async def list_members(self, tenant: str) -> list[User]:
        ids = sorted(keys.texts(await self._redis.smembers(keys.members(tenant))))
        if not ids:
            return []
        raws = await self._redis.hmget(keys.USERS, ids)
        return [User.from_json(raw) for raw in raws if raw]

    async def delete_user(self, user: User) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hdel(keys.USERS, user.id)
            pipe.hdel(keys.USERNAMES, user.username)
            for tenant in user.memberships:
                pipe.srem(keys.members(tenant), user.id)
            pipe.delete(keys.failures(user.username), keys.consents(user.id), keys.oauth_consent(user.id))
            await pipe.execute()

    # ---- login failures ----

    async def failures(self, username: str, window: int) -> list[float]:
        """Timestamps of failed logins for `username` within the last `window` seconds."""
        now = time.time()
        found = await self._redis.zrangebyscore(
            keys.failures(username), now - window, "+inf", withscores=True
        )
        return [score for _, score in keys.scored(found)]

    async def record_failure(self, username: str, window: int) -> list[float]:
        """Add a failed login and return the failures within the window."""
        now = time.time()
        key = keys.failures(username)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zadd(key, {f"{now:.6f}": now})
            pipe.zremrangebyscore(key, "-inf", now - window)
            pipe.expire(key, window)
            pipe.zrange(key, 0, -1, withscores=True)
            replies = await pipe.execute()
        return [score for _, score in keys.scored(replies[-1])]

    async def clear_failures(self, username: str) -> None:
        await self._redis.delete(keys.failures(username))
