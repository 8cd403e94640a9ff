-- Compare-and-set one JSON document: replace it only if it is still exactly what the caller read.
-- KEYS[1] the document key
-- ARGV[1] the expected current value
-- ARGV[2] the new value
-- Returns 1 when written, 0 when the document changed (or vanished) meanwhile.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[2])
return 1
