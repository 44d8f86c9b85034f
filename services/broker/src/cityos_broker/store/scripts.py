"""Lua scripts of the store, loaded once per server and called by SHA (NOSCRIPT falls back to a load)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from cityos_runtime.redis_connect import RedisClient, RedisPipeline
from redis.exceptions import NoScriptError

# KEYS: 1 entity hash, 2 change stream, 3 tenant sequence, 4.. index keys named by the ops.
# ARGV: 1 expected version ("0": must not exist), 2 new stored form ("" deletes), 3 op, 4 entity id,
#       5 types (JSON, for the event), 6 timestamp, 7 index ops as one JSON
#       array: "Z+", k | "Z-", k | "H", k, field, delta | "N", k, "score" | "G", k, "lon", "lat"
#       (k: position in KEYS), 8 the writer's W3C traceparent ("" when its span is not recorded; the
#       event then has no `tp` field). Ops are validated by the caller before the script touches
#       anything, since a script that fails half-way is not rolled back.
# Returns {1, new version} or {0, current version} when the expected version did not match.
# Versions come from a per-tenant sequence, so a deleted and re-created entity never reuses one.
WRITE_ENTITY = """
local cur = redis.call('HGET', KEYS[1], 'v') or '0'
if cur ~= ARGV[1] then return {0, cur} end
local before = ''
if cur ~= '0' then before = redis.call('HGET', KEYS[1], 'd') or '' end
local id = ARGV[4]
local ops = cjson.decode(ARGV[7])
local i = 1
local n = #ops
while i <= n do
  local op = ops[i]
  local key = KEYS[ops[i + 1]]
  if op == 'Z+' then
    redis.call('ZADD', key, 0, id)
    i = i + 2
  elseif op == 'Z-' then
    redis.call('ZREM', key, id)
    i = i + 2
  elseif op == 'H' then
    local f = ops[i + 2]
    if redis.call('HINCRBY', key, f, ops[i + 3]) <= 0 then redis.call('HDEL', key, f) end
    i = i + 4
  elseif op == 'N' then
    redis.call('ZADD', key, ops[i + 2], id)
    i = i + 3
  elseif op == 'G' then
    redis.call('GEOADD', key, ops[i + 2], ops[i + 3], id)
    i = i + 4
  else
    return redis.error_reply('unknown index op ' .. tostring(op))
  end
end
local nv = '0'
if ARGV[2] == '' then
  redis.call('DEL', KEYS[1])
else
  nv = tostring(redis.call('INCR', KEYS[3]))
  redis.call('HSET', KEYS[1], 'd', ARGV[2], 'v', nv)
end
-- No MAXLEN here: trimming by length could drop events a consumer group has not read yet, so the
-- stream is trimmed only by store/stream_trim.py, behind the slowest group.
local event = {'op', ARGV[3], 'id', id, 'types', ARGV[5], 'v', nv, 'at', ARGV[6], 'before', before,
  'after', ARGV[2]}
if ARGV[8] ~= nil and ARGV[8] ~= '' then
  event[#event + 1] = 'tp'
  event[#event + 1] = ARGV[8]
end
redis.call('XADD', KEYS[2], '*', unpack(event))
return {1, nv}
"""


class LuaScript:
    """A script called by SHA; the text is loaded on first NOSCRIPT (after a restart or SCRIPT FLUSH)."""

    __slots__ = ("sha", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()

    async def load(self, redis: RedisClient) -> None:
        """Load the script text into the server's script cache."""
        await redis.script_load(self.source)

    async def run(self, redis: RedisClient, keys: Sequence[str], args: Sequence[str]) -> object:
        """EVALSHA, loading the script once when the server does not know it."""
        try:
            return await redis.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            await self.load(redis)
            return await redis.evalsha(self.sha, len(keys), *keys, *args)

    def queue(self, pipe: RedisPipeline, keys: Sequence[str], args: Sequence[str]) -> None:
        """Queue an EVALSHA in a pipeline; the caller retries entries that fail with NoScriptError."""
        # Not pipe.evalsha: redis-py blocks that method on cluster pipelines, although a script whose keys
        # share one slot (one tenant's) is routed like any single-slot command.
        pipe.execute_command("EVALSHA", self.sha, len(keys), *keys, *args)
