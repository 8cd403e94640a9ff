-- Record a new delivery (the fan-out, once per event and endpoint): the record and its place in
-- the endpoint's lex index, in the endpoint's slot. Run again for the same delivery (a fan-out
-- that crashed before acknowledging the event) it changes nothing.
-- KEYS[1] the delivery record, KEYS[2] the endpoint's deliveries index
-- ARGV[1] the record (JSON), ARGV[2] the index member "<created_ms 13 digits>:<delivery_id>",
-- ARGV[3] retention (ms), ARGV[4] the oldest member kept, exclusive ("(<13 digits>")
-- Returns 1 when created, 0 when it existed already.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
redis.call('ZADD', KEYS[2], 0, ARGV[2])
-- Trimmed by age as records expire: members older than the retention go.
redis.call('ZREMRANGEBYLEX', KEYS[2], '-', ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return 1
