-- Ends one reservation of ARGV[1] nano-dollars and adds the actual cost ARGV[2] to the
-- spend (when the budget hash exists: otherwise the next reservation seeds it from the
-- ledger, which will hold this cost).
-- KEYS[1]: budget hash. KEYS[2]: reservations.
local prefix = ARGV[1] .. ':'
for _, m in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  if string.sub(m, 1, #prefix) == prefix then
    redis.call('ZREM', KEYS[2], m)
    break
  end
end
if tonumber(ARGV[2]) > 0 and redis.call('HEXISTS', KEYS[1], 'spend') == 1 then
  redis.call('HINCRBY', KEYS[1], 'spend', ARGV[2])
end
return 1
