"""The Lua scripts of ``RedisTaskStore``: each write, its index moves, its event and its TTLs in one atomic step.

``SWEEP`` (prepended to the create and write scripts) deletes up to ``SWEEP_BATCH`` tasks whose retention is
over, from ``expiry`` members ``{id}|{status}|{provider}``: their index entries, keys and outbox records. It
names keys it was not passed, so it needs a single Redis (or a primary with replicas), not Redis Cluster.
"""

from __future__ import annotations

SWEEP_BATCH = 20

SWEEP = """
local function sweep(p, now, n)
  local due = redis.call('ZRANGEBYSCORE', p .. 'expiry', '-inf', now, 'LIMIT', 0, n)
  for _, m in ipairs(due) do
    local id, status, provider = string.match(m, '^([^|]*)|([^|]*)|(.*)$')
    if id then
      redis.call('ZREM', p .. 'idx:all', id); redis.call('ZREM', p .. 'idx:s:' .. status, id)
      redis.call('ZREM', p .. 'idx:p:' .. provider, id)
      redis.call('ZREM', p .. 'idx:ps:' .. provider .. ':' .. status, id)
      local deliveries = redis.call('SMEMBERS', p .. 'wh:task:' .. id)
      table.insert(deliveries, 'msg_' .. (string.match(id, '^[^_]*_(.*)$') or id))  -- outbox.message_id
      for _, d in ipairs(deliveries) do
        redis.call('ZREM', p .. 'wh:due', d); redis.call('DEL', p .. 'wh:' .. d)
      end
      redis.call('DEL', p .. 'task:' .. id, p .. 'ev:' .. id, p .. 'wh:task:' .. id)
    end
    redis.call('ZREM', p .. 'expiry', m)
  end
end
"""

CREATE = (
    SWEEP
    + """
local p = ARGV[8]
sweep(p, ARGV[12], ARGV[13])
if ARGV[6] == '1' then
  local existing = redis.call('HGET', KEYS[2], 'id')
  if existing and redis.call('EXISTS', p .. 'task:' .. existing) == 1 then
    return {existing, redis.call('HGET', KEYS[2], 'fp')}
  end
  redis.call('HSET', KEYS[2], 'id', ARGV[1], 'fp', ARGV[3]); redis.call('PEXPIRE', KEYS[2], ARGV[7])
end
if redis.call('EXISTS', KEYS[1]) == 1 then return {'', ''} end
redis.call('HSET', KEYS[1], 'v', 1, 'j', ARGV[2])
for i = 3, 6 do redis.call('ZADD', KEYS[i], 0, ARGV[1]) end
redis.call('XADD', KEYS[7], 'MAXLEN', '~', ARGV[5], '1-0', 'e', ARGV[4])
if ARGV[9] ~= '' then
  redis.call('PEXPIRE', KEYS[1], ARGV[9]); redis.call('PEXPIRE', KEYS[7], ARGV[9])
  redis.call('ZADD', KEYS[8], ARGV[11], ARGV[10])
end
return {ARGV[1], ARGV[3]}
"""
)

PUT = (
    SWEEP
    + """
local v = redis.call('HGET', KEYS[1], 'v')
if not v then return -1 end
if v ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'j', ARGV[3])
if KEYS[3] ~= KEYS[4] then
  redis.call('ZREM', KEYS[3], ARGV[4]); redis.call('ZADD', KEYS[4], 0, ARGV[4])
  redis.call('ZREM', KEYS[5], ARGV[4]); redis.call('ZADD', KEYS[6], 0, ARGV[4])
end
if ARGV[5] ~= '' then redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[6], ARGV[2] .. '-0', 'e', ARGV[5]) end
if ARGV[7] ~= '' and redis.call('EXISTS', KEYS[7]) == 0 then
  redis.call('HSET', KEYS[7], 'v', 1, 'j', ARGV[7])
  redis.call('ZADD', KEYS[8], ARGV[9], ARGV[8]); redis.call('SADD', KEYS[9], ARGV[8])
end
if ARGV[10] ~= '' then
  for i = 1, 2 do redis.call('PEXPIRE', KEYS[i], ARGV[10]) end
  for i = 7, 9, 2 do redis.call('PEXPIRE', KEYS[i], ARGV[10]) end
  redis.call('ZADD', KEYS[10], ARGV[12], ARGV[11])
  sweep(ARGV[13], ARGV[14], ARGV[15])
end
return 1
"""
)

OUTBOX_PUT = """
local v = redis.call('HGET', KEYS[1], 'v') or '0'
if v ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'j', ARGV[3])
if ARGV[4] == '' then redis.call('ZREM', KEYS[2], ARGV[5]) else redis.call('ZADD', KEYS[2], ARGV[4], ARGV[5]) end
redis.call('SADD', KEYS[3], ARGV[5])
if ARGV[1] == '0' then  -- a new delivery lives as long as its task
  local ttl = redis.call('PTTL', KEYS[4])
  if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl); redis.call('PEXPIRE', KEYS[3], ttl) end
end
return 1
"""
