"""Short-lived OAuth state: authorization codes, refresh-token families, revocations, sessions, CSRF."""

from __future__ import annotations

import time
from typing import Any

import orjson
from cityos_runtime.redis_connect import RedisClient

from cityos_identity.store import keys

# Consume a refresh token: KEYS = token, family, family's access tokens, revoked-exp, revoked-at.
# ARGV = now. Returns {"ok", data} | {"missing"} | {"revoked"} | {"reused"}; a reuse revokes the family
# and every access token issued in it (their jtis join the revocation list).
_CONSUME = """
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return {'missing'} end
if redis.call('HGET', KEYS[2], 'revoked') == '1' then return {'revoked'} end
if state ~= 'active' then
  redis.call('HSET', KEYS[2], 'revoked', '1')
  local now = tonumber(ARGV[1])
  local issued = redis.call('ZRANGE', KEYS[3], 0, -1, 'WITHSCORES')
  for i = 1, #issued, 2 do
    if tonumber(issued[i + 1]) > now then
      redis.call('ZADD', KEYS[4], issued[i + 1], issued[i])
      redis.call('ZADD', KEYS[5], now, issued[i])
    end
  end
  return {'reused'}
end
redis.call('HSET', KEYS[1], 'state', 'used')
return {'ok', redis.call('HGET', KEYS[1], 'data')}
"""


class TokenStore:
    """Codes (single use), refresh tokens grouped in families, the access-token denylist, sessions."""

    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis
        self._consume = redis.register_script(_CONSUME)

    # ---- authorization codes ----

    async def save_code(self, code: str, data: dict[str, Any], ttl: int) -> None:
        await self._redis.set(keys.code(code), orjson.dumps(data), ex=ttl)

    async def take_code(self, code: str) -> dict[str, Any] | None:
        """The code's data, deleted in the same step so a code can be redeemed only once."""
        raw = await self._redis.getdel(keys.code(code))
        return orjson.loads(raw) if raw else None

    # ---- refresh tokens ----

    async def save_refresh(self, token: str, family_id: str, data: dict[str, Any], ttl: int) -> None:
        """Store an active refresh token in `family_id` (the family lives as long as its newest token)."""
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(
                keys.refresh(token),
                mapping={"state": "active", "family": family_id, "data": orjson.dumps(data).decode()},
            )
            pipe.expire(keys.refresh(token), ttl)
            pipe.hsetnx(keys.family(family_id), "revoked", "0")
            pipe.expire(keys.family(family_id), ttl)
            pipe.expire(keys.family_access(family_id), ttl)
            await pipe.execute()

    async def add_family_access(self, family_id: str, jti: str, expires_at: int, ttl: int) -> None:
        """Remember an access token issued in a family, so a reuse can revoke it too."""
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zadd(keys.family_access(family_id), {jti: expires_at})
            pipe.zremrangebyscore(keys.family_access(family_id), "-inf", int(time.time()))
            pipe.expire(keys.family_access(family_id), ttl)
            await pipe.execute()

    async def peek_refresh(self, token: str) -> tuple[str, str, dict[str, Any]] | None:
        """(state, family, data) of a refresh token without consuming it."""
        raw = {
            keys.text(k): keys.text(v) for k, v in (await self._redis.hgetall(keys.refresh(token))).items()
        }
        if not raw:
            return None
        return raw["state"], raw["family"], orjson.loads(raw["data"])

    async def family_revoked(self, family_id: str) -> bool:
        return await self._redis.hget(keys.family(family_id), "revoked") == "1"

    async def consume_refresh(self, token: str) -> tuple[str, dict[str, Any] | None]:
        """Mark the token used: ("ok", data), or ("missing" | "revoked" | "reused", None)."""
        raw_family = await self._redis.hget(keys.refresh(token), "family")
        if not raw_family:
            return "missing", None
        found = keys.text(raw_family)
        reply = await self._consume(
            keys=[
                keys.refresh(token),
                keys.family(found),
                keys.family_access(found),
                keys.REVOKED_EXP,
                keys.REVOKED_AT,
            ],
            args=[int(time.time())],
        )
        outcome = str(reply[0])
        return (outcome, orjson.loads(reply[1])) if outcome == "ok" else (outcome, None)

    async def revoke_family(self, family_id: str) -> None:
        """Revoke a family and every unexpired access token issued in it."""
        now = int(time.time())
        issued = keys.scored(
            await self._redis.zrangebyscore(keys.family_access(family_id), now, "+inf", withscores=True)
        )
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(keys.family(family_id), "revoked", "1")
            for jti, expires_at in issued:
                pipe.zadd(keys.REVOKED_EXP, {jti: expires_at})
                pipe.zadd(keys.REVOKED_AT, {jti: now})
            await pipe.execute()

    # ---- access-token denylist ----

    async def revoke_access(self, jti: str, expires_at: int) -> None:
        now = int(time.time())
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zadd(keys.REVOKED_EXP, {jti: expires_at})
            pipe.zadd(keys.REVOKED_AT, {jti: now})
            await pipe.execute()

    async def is_revoked(self, jti: str) -> bool:
        return await self._redis.zscore(keys.REVOKED_EXP, jti) is not None

    async def revoked_since(self, since: int) -> list[tuple[str, int, int]]:
        """(jti, expires_at, revoked_at) revoked at or after `since` and not yet expired; prunes expired."""
        now = int(time.time())
        expired = keys.texts(await self._redis.zrangebyscore(keys.REVOKED_EXP, "-inf", now))
        if expired:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.zrem(keys.REVOKED_EXP, *expired)
                pipe.zrem(keys.REVOKED_AT, *expired)
                await pipe.execute()
        revoked = keys.scored(
            await self._redis.zrangebyscore(keys.REVOKED_AT, since, "+inf", withscores=True)
        )
        if not revoked:
            return []
        expiries = await self._redis.zmscore(keys.REVOKED_EXP, [jti for jti, _ in revoked])
        return [
            (jti, int(exp), int(at))
            for (jti, at), exp in zip(revoked, expiries, strict=True)
            if exp is not None
        ]

    # ---- browser sessions, CSRF tokens, remembered consent ----

    async def save_session(self, sid: str, data: dict[str, Any], ttl: int) -> None:
        await self._redis.set(keys.session(sid), orjson.dumps(data), ex=ttl)

    async def get_session(self, sid: str) -> dict[str, Any] | None:
        raw = await self._redis.get(keys.session(sid))
        return orjson.loads(raw) if raw else None

    async def delete_session(self, sid: str) -> None:
        await self._redis.delete(keys.session(sid))

    async def save_csrf(self, token: str, binding: str, ttl: int) -> None:
        await self._redis.set(keys.csrf(token), binding, ex=ttl)

    async def take_csrf(self, token: str) -> str | None:
        """The browser binding of a CSRF token, deleted so each form token is used once."""
        value = await self._redis.getdel(keys.csrf(token))
        return str(value) if value is not None else None

    async def remembered_scopes(self, user_id: str, client_id: str) -> set[str]:
        raw = await self._redis.hget(keys.oauth_consent(user_id), client_id)
        return set(keys.text(raw).split()) if raw else set()

    async def remember_scopes(self, user_id: str, client_id: str, scopes: set[str]) -> None:
        await self._redis.hset(keys.oauth_consent(user_id), client_id, " ".join(sorted(scopes)))
