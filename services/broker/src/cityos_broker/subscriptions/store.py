"""Subscriptions in Redis: documents, the per-tenant id index, a version counter and delivery status.

Keys (all in the tenant's hash-tag slot): `sub:<id>` hash (`d` stored form, `v` version), `subs` zset
(score 0: lexical paging), `subsver` (incremented by every change, so notifier caches know when to
reload) and `substat:<id>` hash (timesSent, timesFailed, lastNotification, lastSuccess, lastFailure,
status). Creation also makes sure the notifier's consumer group exists on the tenant's change stream,
so no change made after the subscription is acknowledged can be missed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import orjson
from cityos_runtime.problems import ProblemError
from cityos_runtime.redis_connect import RedisClient, RedisPipeline
from redis.exceptions import ResponseError

from cityos_broker.store.keys import TenantKeys, as_text
from cityos_broker.store.scripts import LuaScript

CHANGES_GROUP = "notifier"
Stored = dict[str, Any]

# KEYS: 1 sub hash, 2 subs index, 3 version counter, 4 status hash. ARGV: 1 id, 2 document,
# 3 expected version ("0": must not exist, "*": must exist, any version).
_PUT = LuaScript("""
local cur = redis.call('HGET', KEYS[1], 'v') or '0'
if ARGV[3] == '*' then
  if cur == '0' then return 0 end
elseif cur ~= ARGV[3] then return -1 end
local nv = redis.call('INCR', KEYS[3])
redis.call('HSET', KEYS[1], 'd', ARGV[2], 'v', nv)
redis.call('ZADD', KEYS[2], 0, ARGV[1])
return 1
""")
# KEYS as _PUT. ARGV: 1 id. Returns 1 when the subscription existed.
_DELETE = LuaScript("""
if redis.call('DEL', KEYS[1]) == 0 then return 0 end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[4])
redis.call('INCR', KEYS[3])
return 1
""")
# KEYS: 1 sub hash, 2 status hash. ARGV: 1 outcome ("ok" | "failed" | "dead"), 2 timestamp, 3 how many
# notifications succeeded ("ok" only; default 1: the notifier counts a batch of deliveries at once).
# Status only for a subscription that still exists (a late delivery must not resurrect a deleted one).
_STATUS = LuaScript("""
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[2], 'lastNotification', ARGV[2])
if ARGV[1] == 'ok' then
  redis.call('HINCRBY', KEYS[2], 'timesSent', tonumber(ARGV[3] or '1'))
  redis.call('HSET', KEYS[2], 'lastSuccess', ARGV[2], 'status', 'ok')
else
  redis.call('HINCRBY', KEYS[2], 'timesFailed', 1)
  redis.call('HSET', KEYS[2], 'lastFailure', ARGV[2])
  if ARGV[1] == 'dead' then
    redis.call('HSET', KEYS[2], 'status', 'failed')
    redis.call('HINCRBY', KEYS[2], 'deadLettered', 1)
  end
end
return 1
""")


async def _run(script: LuaScript, redis: RedisClient, keys: list[str], args: list[str]) -> int:
    """Run a script whose reply is an integer."""
    reply = await script.run(redis, keys, args)
    if not isinstance(reply, int):
        raise RuntimeError(f"unexpected subscription script reply {reply!r}")
    return reply


class SubscriptionKeys:
    """Key names of one tenant's subscriptions."""

    __slots__ = ("changes", "dead", "index", "notify", "prefix", "version")

    def __init__(self, tenant: str) -> None:
        base = TenantKeys(tenant)
        self.prefix = base.prefix
        self.changes = base.changes
        self.index = self.prefix + "subs"
        self.version = self.prefix + "subsver"
        self.notify = self.prefix + "notify"
        self.dead = self.prefix + "deadletters"

    def doc(self, sub_id: str) -> str:
        return f"{self.prefix}sub:{sub_id}"

    def status(self, sub_id: str) -> str:
        return f"{self.prefix}substat:{sub_id}"

    def lease(self, kind: str, sub_id: str) -> str:
        return f"{self.prefix}lease:{kind}:{sub_id}"

    def sent(self, notification_id: str) -> str:
        return f"{self.prefix}sent:{notification_id}"

    def _four(self, sub_id: str) -> list[str]:
        return [self.doc(sub_id), self.index, self.version, self.status(sub_id)]


class Found(NamedTuple):
    """A stored subscription, its version and its delivery status."""

    sub: Stored
    version: str
    status: dict[str, str]


def _status(raw: dict[bytes, bytes]) -> dict[str, str]:
    return {as_text(k): as_text(v) for k, v in raw.items()}


class SubscriptionStore:
    """CRUD of subscriptions and their delivery status."""

    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis

    async def ensure_group(self, tenant: str) -> None:
        """Create the notifier's consumer group on the tenant's change stream (new entries only)."""
        try:
            await self._redis.xgroup_create(
                SubscriptionKeys(tenant).changes, CHANGES_GROUP, "$", mkstream=True
            )
        except ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise

    async def create(self, tenant: str, sub: Stored) -> None:
        """Store a new subscription; ProblemError AlreadyExists when the id is taken."""
        await self.ensure_group(tenant)
        keys = SubscriptionKeys(tenant)
        done = await _run(
            _PUT, self._redis, keys._four(sub["id"]), [sub["id"], orjson.dumps(sub).decode(), "0"]
        )
        if done != 1:
            raise ProblemError("AlreadyExists", f"subscription {sub['id']} already exists")

    async def replace(self, tenant: str, sub: Stored, version: str) -> bool:
        """Write a changed subscription if its version is still `version`; False on a concurrent change."""
        keys = SubscriptionKeys(tenant)
        done = int(
            await _run(
                _PUT, self._redis, keys._four(sub["id"]), [sub["id"], orjson.dumps(sub).decode(), version]
            )
        )
        if done == 0:
            raise not_found(sub["id"])
        return done == 1

    async def delete(self, tenant: str, sub_id: str) -> None:
        """Remove a subscription and its status; ProblemError ResourceNotFound when absent."""
        keys = SubscriptionKeys(tenant)
        if (await _run(_DELETE, self._redis, keys._four(sub_id), [sub_id])) != 1:
            raise not_found(sub_id)

    async def get(self, tenant: str, sub_id: str) -> Found | None:
        """A subscription with its status, or None."""
        [found] = await self.get_many(tenant, [sub_id])
        return found

    async def get_many(self, tenant: str, ids: Sequence[str]) -> list[Found | None]:
        """Subscriptions in the order of `ids` (None where absent), in one pipeline."""
        if not ids:
            return []
        keys = SubscriptionKeys(tenant)
        async with self._redis.pipeline(transaction=False) as pipe:
            for sub_id in ids:
                pipe.hmget(keys.doc(sub_id), ["d", "v"])
                pipe.hgetall(keys.status(sub_id))
            rows = await pipe.execute()
        found: list[Found | None] = []
        for (doc, version), status in zip(rows[::2], rows[1::2], strict=True):
            found.append(None if doc is None else Found(orjson.loads(doc), as_text(version), _status(status)))
        return found

    async def page(self, tenant: str, offset: int, limit: int) -> tuple[list[Found], int]:
        """A page of subscriptions in lexical id order and the total number."""
        keys = SubscriptionKeys(tenant)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.zrange(keys.index, offset, offset + limit - 1)
            pipe.zcard(keys.index)
            ids, total = await pipe.execute()
        if limit <= 0:
            return [], int(total)
        found = await self.get_many(tenant, [as_text(i) for i in ids])
        return [f for f in found if f is not None], int(total)

    async def page_owned(
        self, tenant: str, member: str, owner: str | None, offset: int, limit: int
    ) -> tuple[list[Found], int]:
        """A page of the subscriptions whose `member` is `owner`, in id order, and their number.

        Reads all of the tenant's subscriptions: there is no index by owner, and a tenant has few.
        """
        keys = SubscriptionKeys(tenant)
        raw: Any = await self._redis.zrange(keys.index, 0, -1)
        ids = [as_text(i) for i in raw]
        owned = [f for f in await self.get_many(tenant, ids) if f is not None and f.sub.get(member) == owner]
        return (owned[offset : offset + limit] if limit > 0 else []), len(owned)

    async def version(self, tenant: str) -> int:
        """The tenant's subscription version counter (changes with every create, update or delete)."""
        raw = await self._redis.get(SubscriptionKeys(tenant).version)
        return int(raw or 0)

    async def all(self, tenant: str) -> tuple[int, list[Stored]]:
        """The version and every subscription of a tenant (for the notifier's cache)."""
        keys = SubscriptionKeys(tenant)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.get(keys.version)
            pipe.zrange(keys.index, 0, -1)
            raw_version, ids = await pipe.execute()
        found = await self.get_many(tenant, [as_text(i) for i in ids])
        return int(raw_version or 0), [f.sub for f in found if f is not None]

    async def has_any(self, tenants: Sequence[str]) -> list[bool]:
        """Per tenant, whether it has subscriptions (one pipeline)."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for tenant in tenants:
                pipe.exists(SubscriptionKeys(tenant).index)
            replies = await pipe.execute()
        return [bool(n) for n in replies]

    def queue_record(
        self, pipe: RedisPipeline, tenant: str, sub_id: str, outcome: str, at: str, count: int = 1
    ) -> None:
        """Queue `record` in a pipeline (the caller reruns it alone on a NOSCRIPT reply)."""
        keys = SubscriptionKeys(tenant)
        _STATUS.queue(pipe, [keys.doc(sub_id), keys.status(sub_id)], [outcome, at, str(count)])

    async def record(self, tenant: str, sub_id: str, outcome: str, at: str, count: int = 1) -> None:
        """Count delivery outcomes: "ok" (`count` notifications sent), "failed" (an attempt failed) or "dead"
        (gave up)."""
        keys = SubscriptionKeys(tenant)
        await _run(_STATUS, self._redis, [keys.doc(sub_id), keys.status(sub_id)], [outcome, at, str(count)])


def not_found(sub_id: str) -> ProblemError:
    """The 404 of an unknown subscription."""
    return ProblemError("ResourceNotFound", f"subscription {sub_id} does not exist")
