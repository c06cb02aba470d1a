-- Cools a deployment down for ARGV[1] ms, keeping a longer cooldown already in place.
-- KEYS[1]: cooldown key.
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
end
return 1
