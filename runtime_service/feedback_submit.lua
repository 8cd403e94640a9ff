-- Accept a conversation's feedback at most once, in the widget's hash slot.
-- KEYS[1] conversation hash
-- ARGV[1] feedback record {data, submitted_at} (JSON), ARGV[2] serialized size of the submitted
-- data, ARGV[3] the size limit, ARGV[4] a random id of this submission
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
return 'ok'
