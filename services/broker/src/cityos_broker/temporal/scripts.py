"""The history write script: instances, indexes and the latest-state hash of one entity, atomically."""

from __future__ import annotations

# KEYS: 1 entity hash, 2 temporal ids zset, 3 attributes-with-history set, 4.. keys named by the ops.
# ARGV: 1 entity id, 2 ops as one JSON array:
#   "Z", k, score, member   ZADD an instance (a re-delivered event adds the identical member: idempotent)
#   "A", iri                SADD the attribute to the attributes-with-history set
#   "T", k                  ZADD the entity id to a type index
#   "F", field, seq, value  set a latest-state field unless a newer event (seq) already set it; "" deletes
# Sequences are fixed-width strings, so Lua's string comparison orders them.
RECORD = """
local ops = cjson.decode(ARGV[2])
local id = ARGV[1]
redis.call('ZADD', KEYS[2], 0, id)
local i = 1
local n = #ops
while i <= n do
  local op = ops[i]
  if op == 'Z' then
    redis.call('ZADD', KEYS[ops[i + 1]], ops[i + 2], ops[i + 3])
    i = i + 4
  elseif op == 'A' then
    redis.call('SADD', KEYS[3], ops[i + 1])
    i = i + 2
  elseif op == 'T' then
    redis.call('ZADD', KEYS[ops[i + 1]], 0, id)
    i = i + 2
  elseif op == 'F' then
    local field = ops[i + 1]
    local seq = ops[i + 2]
    local seen = redis.call('HGET', KEYS[1], 'q:' .. field)
    if (not seen) or seen <= seq then
      if ops[i + 3] == '' then
        redis.call('HDEL', KEYS[1], field)
      else
        redis.call('HSET', KEYS[1], field, ops[i + 3])
      end
      redis.call('HSET', KEYS[1], 'q:' .. field, seq)
    end
    i = i + 4
  else
    return redis.error_reply('unknown history op ' .. tostring(op))
  end
end
return 1
"""
