"""Signing-key records in Redis: compare-and-set rotation under a lease, so one replica rotates."""

from __future__ import annotations

import secrets

from cityos_runtime.redis_connect import RedisClient

from cityos_identity.signing import SigningKeyRecord
from cityos_identity.store import keys

# Make ARGV[1] (new record JSON, kid ARGV[2]) current if the current kid is still ARGV[3] ("" = none);
# retire the old one at ARGV[4] with its max token lifetime ARGV[5]. Returns 1 when rotated.
_ROTATE = """
local current = redis.call('GET', KEYS[2]) or ''
if current ~= ARGV[3] then return 0 end
if current ~= '' then
  local raw = redis.call('HGET', KEYS[1], current)
  if raw then
    local old = cjson.decode(raw)
    old['retired_at'] = tonumber(ARGV[4])
    old['max_token_ttl'] = tonumber(ARGV[5])
    redis.call('HSET', KEYS[1], current, cjson.encode(old))
  end
end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[1])
redis.call('SET', KEYS[2], ARGV[2])
return 1
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class SigningKeyStore:
    """All signing keys (hash by kid) and the pointer to the current one."""

    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis
        self._rotate = redis.register_script(_ROTATE)
        self._release = redis.register_script(_RELEASE)

    async def load(self) -> tuple[str, list[SigningKeyRecord]]:
        """The current kid ("" when none yet) and every stored key."""
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.get(keys.SIGNING_CURRENT)
            pipe.hgetall(keys.SIGNING_KEYS)
            current, raw = await pipe.execute()
        return current or "", [SigningKeyRecord.from_json(v) for v in raw.values()]

    async def rotate(
        self, new: SigningKeyRecord, expected_current: str, now: int, max_token_ttl: int
    ) -> bool:
        """Install `new` as current if the current kid is still `expected_current`."""
        done = await self._rotate(
            keys=[keys.SIGNING_KEYS, keys.SIGNING_CURRENT],
            args=[new.to_json(), new.kid, expected_current, now, max_token_ttl],
        )
        return bool(done)

    async def delete(self, kids: list[str]) -> None:
        if kids:
            await self._redis.hdel(keys.SIGNING_KEYS, *kids)

    async def acquire_lease(self, ttl_ms: int) -> str | None:
        """A token proving this replica holds the rotation lease, or None when another one does."""
        token = secrets.token_hex(16)
        got = await self._redis.set(keys.ROTATION_LEASE, token, nx=True, px=ttl_ms)
        return token if got else None

    async def release_lease(self, token: str) -> None:
        await self._release(keys=[keys.ROTATION_LEASE], args=[token])
