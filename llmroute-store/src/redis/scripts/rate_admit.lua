-- Admits one request of a key under its rpm / tpm, counting it, or refuses it.
-- KEYS[1]: the key's window hash (r = requests, t = tokens), expiring when the window ends.
-- ARGV: rpm (-1 = none), tpm (-1 = none), estimated tokens, window ms.
-- Returns {verdict, ms until the window ends}: 0 admitted, 1 over rpm, 2 over tpm.
local rpm, tpm = tonumber(ARGV[1]), tonumber(ARGV[2])
local tokens, window = tonumber(ARGV[3]), tonumber(ARGV[4])
local ttl = redis.call('PTTL', KEYS[1])
local r, t = 0, 0
if ttl > 0 then
  local v = redis.call('HMGET', KEYS[1], 'r', 't')
  r, t = tonumber(v[1] or '0'), tonumber(v[2] or '0')
else
  redis.call('DEL', KEYS[1])
  ttl = window
end
if rpm >= 0 and r + 1 > rpm then return {1, ttl} end
if tpm >= 0 and math.max(t, 0) + tokens > tpm then return {2, ttl} end
redis.call('HINCRBY', KEYS[1], 'r', 1)
redis.call('HINCRBY', KEYS[1], 't', ARGV[3])
if redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('PEXPIRE', KEYS[1], window)
end
return {0, ttl}
