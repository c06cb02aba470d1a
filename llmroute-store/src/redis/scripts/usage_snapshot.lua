-- Usage and cooldown of several deployments in one round trip.
-- KEYS: usage hash, cooldown key, repeated per deployment.
-- Returns: requests, tokens, cooldown PTTL (ms; negative when none), per deployment.
local out = {}
for i = 1, #KEYS, 2 do
  local v = redis.call('HMGET', KEYS[i], 'r', 't')
  out[#out + 1] = tonumber(v[1] or '0')
  out[#out + 1] = tonumber(v[2] or '0')
  out[#out + 1] = redis.call('PTTL', KEYS[i + 1])
end
return out
