-- Store a new conversation and index it, in the widget's hash slot.
-- KEYS[1] conversation hash, KEYS[2] the widget's index, KEYS[3] the visitor's index,
-- KEYS[4] the widget's `token_created` index (the lifecycle script moves the member on),
-- KEYS[5] (with ARGV[6..]) the widget's stats counters of the start's UTC day
-- ARGV[1] document (safe columns, JSON), ARGV[2] custom_metadata (JSON), ARGV[3] index member
-- ARGV[4] exclusive lex bound below which index members are past retention, ARGV[5] retention
-- (s): the widget's effective retention
-- ARGV[6..9] (optional) the lifecycle's start (docs/lifecycle.md): the current room, the token
-- deadline (ms), the `conversation.started` event's outbox field and JSON, and ARGV[10]
-- STATS_RETENTION (s)
-- `ix`: the index member, for whoever moves or removes it (status changes, erasure).
redis.call('HSET', KEYS[1], 'doc', ARGV[1], 'meta', ARGV[2], 'ix', ARGV[3])
if ARGV[6] then
    redis.call('HSET', KEYS[1], 'room', ARGV[6], 'deadline', ARGV[7], ARGV[8], ARGV[9])
    redis.call('HINCRBY', KEYS[5], 'started', 1)
    redis.call('EXPIRE', KEYS[5], ARGV[10])
end
redis.call('EXPIRE', KEYS[1], ARGV[5])
for i = 2, 4 do
    redis.call('ZADD', KEYS[i], 0, ARGV[3])
    -- Members sort by creation time, so what has expired is one range at the low end.
    redis.call('ZREMRANGEBYLEX', KEYS[i], '-', ARGV[4])
    -- Only ever lengthened: a widget whose retention was lowered still lists the conversations
    -- kept under the longer one until they are past the new retention.
    if redis.call('TTL', KEYS[i]) < tonumber(ARGV[5]) then
        redis.call('EXPIRE', KEYS[i], ARGV[5])
    end
end
return 1
