-- Adds requests and tokens to a deployment's current window (fixed, from its first use).
-- KEYS[1]: usage hash. ARGV: requests, tokens, window ms.
redis.call('HINCRBY', KEYS[1], 'r', ARGV[1])
redis.call('HINCRBY', KEYS[1], 't', ARGV[2])
if redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return 1
