-- Counts one failure in a window that starts at the first failure; returns the count.
-- KEYS[1]: failure counter. ARGV[1]: window ms.
local n = redis.call('INCR', KEYS[1])
if redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return n
