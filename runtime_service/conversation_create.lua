-- Store a new conversation and index it, in the widget's hash slot.
-- KEYS[1] conversation hash, KEYS[2] the visitor's index, KEYS[3] the widget's `token_created`
-- index (the lifecycle script moves the member on through the status indexes, which together
-- are the widget's index), KEYS[4] (with a room) the widget's stats counters of the start's
-- UTC day
-- ARGV[1] custom_metadata (JSON; "" when empty: not stored), ARGV[2] index member,
-- ARGV[3] exclusive lex bound below which index members are past retention, ARGV[4] retention
-- (s): the widget's effective retention
-- ARGV[5..9] the lifecycle's start (docs/lifecycle.md), or ARGV[5] "" without one: the current
-- room, the token deadline (ms), the `conversation.started` event's outbox field and value
-- (common/lifecycle/events.py outbox_value), STATS_RETENTION (s)
-- ARGV[10..] the safe columns, field, value, ... (common/conversation_record.py)
-- `ix`: the index member, for whoever moves or removes it (status changes, erasure).
redis.call('HSET', KEYS[1], 'ix', ARGV[2], unpack(ARGV, 10))
if ARGV[1] ~= '' then
    redis.call('HSET', KEYS[1], 'meta', ARGV[1])
end
if ARGV[5] ~= '' then
    redis.call('HSET', KEYS[1], 'room', ARGV[5], 'deadline', ARGV[6], ARGV[7], ARGV[8])
    redis.call('HINCRBY', KEYS[4], 'started', 1)
    redis.call('EXPIRE', KEYS[4], ARGV[9])
end
redis.call('EXPIRE', KEYS[1], ARGV[4])
for i = 2, 3 do
    redis.call('ZADD', KEYS[i], 0, ARGV[2])
    -- Members sort by creation time, so what has expired is one range at the low end.
    redis.call('ZREMRANGEBYLEX', KEYS[i], '-', ARGV[3])
    -- Only ever lengthened: a widget whose retention was lowered still lists the conversations
    -- kept under the longer one until they are past the new retention.
    if redis.call('TTL', KEYS[i]) < tonumber(ARGV[4]) then
        redis.call('EXPIRE', KEYS[i], ARGV[4])
    end
end
return 1
