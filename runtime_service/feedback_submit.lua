-- Accept a conversation's feedback at most once, in the widget's hash slot.
-- KEYS[1] conversation hash, KEYS[2] (optional) the widget's stats counters of today (UTC)
-- ARGV[1] feedback record {data, submitted_at} (JSON), ARGV[2] serialized size of the submitted
-- data, ARGV[3] the size limit, ARGV[4] a random id of this submission, ARGV[5..6] the
-- `feedback.submitted` event's outbox field and value (its snapshot: common/lifecycle/events.py);
-- with KEYS[2]: ARGV[7] STATS_RETENTION (s),
-- ARGV[8..] the rating counters (`rating:<field id>:<value>`) this feedback adds one to
-- The submission's id is kept beside the record: when a connection breaks after the write, the
-- client's automatic retry of the same call is recognized and answered 'ok', not 'duplicate'.
if redis.call('EXISTS', KEYS[1]) == 0 then
    return 'not_found'
end
if tonumber(ARGV[2]) > tonumber(ARGV[3]) then
    return 'too_large'
end
if redis.call('HSETNX', KEYS[1], 'feedback', ARGV[1]) == 0 then
    if redis.call('HGET', KEYS[1], 'feedback_submission') == ARGV[4] then
        return 'ok'
    end
    return 'duplicate'
end
redis.call('HSET', KEYS[1], 'feedback_submission', ARGV[4])
if ARGV[5] then
    redis.call('HSET', KEYS[1], ARGV[5], ARGV[6])
end
-- Counted only here, on the first acceptance: a retry answered 'ok' above counts nothing.
if KEYS[2] then
    redis.call('HINCRBY', KEYS[2], 'feedback', 1)
    for i = 8, #ARGV do
        redis.call('HINCRBY', KEYS[2], ARGV[i], 1)
    end
    redis.call('EXPIRE', KEYS[2], ARGV[7])
end
return 'ok'
