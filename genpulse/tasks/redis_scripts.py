"""The Lua scripts of ``RedisTaskStore``: each write, its index moves, its event and its TTLs in one atomic step.

``SWEEP`` (prepended to the create and write scripts) deletes up to ``SWEEP_BATCH`` tasks whose retention is
over, from ``expiry`` members ``{id}|{status}|{provider}|{tenant}``: their index entries, keys and outbox records. It
names keys it was not passed, so it needs a single Redis (or a primary with replicas), not Redis Cluster.
"""

from __future__ import annotations

from genpulse.tasks.store import TENANT_EVENT_HISTORY

SWEEP_BATCH = 20

# A task write's money and limits (``genpulse.tenants.ledger.Movement``), applied in the same script: from
# ``ARGV[base + 1]`` on: balance delta, held delta, open-slot delta, usage row field prefix, its three deltas
# (succeeded, refunded, spend), the number of ledger entries, then the entries (JSON).
MOVE = """
local function move(acct, ledger, open, usage, a, base)
  local db, dh, dopen = tonumber(a[base + 1]), tonumber(a[base + 2]), tonumber(a[base + 3])
  if db ~= 0 then redis.call('HINCRBY', acct, 'balance', db) end
  if dh ~= 0 then redis.call('HINCRBY', acct, 'held', dh) end
  if dopen > 0 then redis.call('INCRBY', open, dopen) end
  if dopen < 0 and tonumber(redis.call('GET', open) or '0') > 0 then redis.call('DECRBY', open, -dopen) end
  if a[base + 4] ~= '' then
    local names = {'succeeded', 'refunded', 'spend'}
    for i = 1, 3 do
      local d = tonumber(a[base + 4 + i])
      if d ~= 0 then redis.call('HINCRBY', usage, a[base + 4] .. '|' .. names[i], d) end
    end
  end
  for i = 1, tonumber(a[base + 8]) do redis.call('RPUSH', ledger, a[base + 8 + i]) end
end
"""

# The tenant's event log (``gp:tev:{tenant}``, entry ids ``{seq}-0``, numbered by the ``gp:tevseq:{tenant}``
# counter): appended in the same script as the task's own event.
TENANT_EVENT = f"""
local function tenant_event(log, counter, json)
  local n = redis.call('INCR', counter)
  redis.call('XADD', log, 'MAXLEN', '~', {TENANT_EVENT_HISTORY}, n .. '-0', 'e', json)
end
"""

SWEEP = """
local function sweep(p, now, n)
  local due = redis.call('ZRANGEBYSCORE', p .. 'expiry', '-inf', now, 'LIMIT', 0, n)
  for _, m in ipairs(due) do
    local id, status, provider, tenant = string.match(m, '^([^|]*)|([^|]*)|([^|]*)|?(.*)$')
    if id then
      redis.call('ZREM', p .. 'idx:all', id); redis.call('ZREM', p .. 'idx:s:' .. status, id)
      redis.call('ZREM', p .. 'idx:p:' .. provider, id)
      redis.call('ZREM', p .. 'idx:ps:' .. provider .. ':' .. status, id)
      if tenant ~= '' then
        redis.call('ZREM', p .. 'idx:t:' .. tenant, id)
        redis.call('ZREM', p .. 'idx:ts:' .. tenant .. ':' .. status, id)
        redis.call('ZREM', p .. 'idx:tp:' .. tenant .. ':' .. provider, id)
        redis.call('ZREM', p .. 'idx:tps:' .. tenant .. ':' .. provider .. ':' .. status, id)
      end
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
    + MOVE
    + TENANT_EVENT
    + """
local p = ARGV[8]
sweep(p, ARGV[12], ARGV[13])
if ARGV[6] == '1' then
  local existing = redis.call('HGET', KEYS[2], 'id')
  if existing and redis.call('EXISTS', p .. 'task:' .. existing) == 1 then
    return {existing, redis.call('HGET', KEYS[2], 'fp')}
  end
end
if redis.call('EXISTS', KEYS[1]) == 1 then return {'', ''} end
if ARGV[15] ~= '' and tonumber(redis.call('GET', KEYS[11]) or '0') >= tonumber(ARGV[15]) then
  return {'', '', 'busy'}
end
if ARGV[14] ~= '' then
  local balance = tonumber(redis.call('HGET', KEYS[9], 'balance') or '0')
  local held = tonumber(redis.call('HGET', KEYS[9], 'held') or '0')
  if balance - held < tonumber(ARGV[14]) then return {'', '', 'credits', tostring(balance), tostring(held)} end
end
if ARGV[6] == '1' then
  redis.call('HSET', KEYS[2], 'id', ARGV[1], 'fp', ARGV[3]); redis.call('PEXPIRE', KEYS[2], ARGV[7])
end
redis.call('HSET', KEYS[1], 'v', 1, 'j', ARGV[2])
for i = 3, 6 do redis.call('ZADD', KEYS[i], 0, ARGV[1]) end
for i = 13, 16 do redis.call('ZADD', KEYS[i], 0, ARGV[1]) end
redis.call('XADD', KEYS[7], 'MAXLEN', '~', ARGV[5], '1-0', 'e', ARGV[4])
if ARGV[9] ~= '' then
  redis.call('PEXPIRE', KEYS[1], ARGV[9]); redis.call('PEXPIRE', KEYS[7], ARGV[9])
  redis.call('ZADD', KEYS[8], ARGV[11], ARGV[10])
end
tenant_event(KEYS[17], KEYS[18], ARGV[16])
move(KEYS[9], KEYS[10], KEYS[11], KEYS[12], ARGV, 16)
return {ARGV[1], ARGV[3]}
"""
)

PUT = (
    SWEEP
    + MOVE
    + TENANT_EVENT
    + """
local v = redis.call('HGET', KEYS[1], 'v')
if not v then return -1 end
if v ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'j', ARGV[3])
for _, k in ipairs({3, 5, 15, 17, 21, 23}) do  -- index pairs (before, after): status and/or provider changed
  if KEYS[k] ~= KEYS[k + 1] then redis.call('ZREM', KEYS[k], ARGV[4]); redis.call('ZADD', KEYS[k + 1], 0, ARGV[4]) end
end
if ARGV[5] ~= '' then
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[6], ARGV[2] .. '-0', 'e', ARGV[5])
  tenant_event(KEYS[19], KEYS[20], ARGV[16])
end
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
move(KEYS[11], KEYS[12], KEYS[13], KEYS[14], ARGV, 16)
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
