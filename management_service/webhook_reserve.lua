-- Reserve an organization's index entry for a new webhook endpoint, within its limit.
-- KEYS[1] the org's webhook index (lex-ordered, member <created_ms>:<id>)
-- ARGV[1] the member
-- ARGV[2] the most endpoints an organization may have
-- Returns 1 when the entry is there (added now or by an earlier attempt), 0 at the limit.
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  return 1
end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[1], 0, ARGV[1])
return 1
