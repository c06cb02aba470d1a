-- Corrects a key's token count in its current window (no window: nothing to correct).
-- KEYS[1]: the key's window hash. ARGV[1]: real - estimated tokens.
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HINCRBY', KEYS[1], 't', ARGV[1])
end
return 1
