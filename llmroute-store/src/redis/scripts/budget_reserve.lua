-- Reserves an estimated cost on a key's budget, or refuses it. Amounts are integer
-- nano-dollars. The spend is seeded from the ledger (PostgreSQL) when missing (first use,
-- or Redis was flushed) and never falls below what the ledger says.
-- KEYS[1]: budget hash (spend, reset, seq). KEYS[2]: reservations (sorted set,
--   member "<nanos>:<seq>", score = expiry in ms of Redis time).
-- ARGV: ledger spend, ledger period end (unix s, -1 none), now (unix s),
--   period length (s, 0 none), max budget, allowed (max + float tolerance), estimate,
--   reservation lifetime (ms), budget hash lifetime (s).
-- Returns {1 reserved | 0 refused, spend, reserved by others, 1 if seeded}.
local h, z = KEYS[1], KEYS[2]
local stored, stored_reset = tonumber(ARGV[1]), tonumber(ARGV[2])
local now, period = tonumber(ARGV[3]), tonumber(ARGV[4])
local max, allowed, est = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local res_ttl, key_ttl = tonumber(ARGV[8]), tonumber(ARGV[9])
local cur = redis.call('HMGET', h, 'spend', 'reset')
local spend, reset, seeded = tonumber(cur[1]), tonumber(cur[2] or '-1'), 0
if spend == nil then
  spend, reset, seeded = stored, stored_reset, 1
elseif stored_reset > reset then
  spend, reset = stored, stored_reset -- the ledger began a new period
elseif stored > spend then
  spend = stored
end
if reset >= 0 and reset <= now then
  spend = 0
  if period > 0 then reset = now + period end
end
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', z, '-inf', now_ms)
local reserved = 0
for _, m in ipairs(redis.call('ZRANGE', z, 0, -1)) do
  reserved = reserved + tonumber(string.match(m, '^(%d+):'))
end
redis.call('HSET', h, 'spend', string.format('%d', spend), 'reset', string.format('%d', reset))
redis.call('EXPIRE', h, key_ttl)
if spend >= max or spend + reserved + est > allowed then
  return {0, string.format('%d', spend), string.format('%d', reserved), seeded}
end
local id = redis.call('HINCRBY', h, 'seq', 1)
redis.call('ZADD', z, now_ms + res_ttl, string.format('%d:%d', est, id))
redis.call('PEXPIRE', z, res_ttl)
return {1, string.format('%d', spend), string.format('%d', reserved), seeded}
