-- Accept a conversation's feedback at most once, in the widget's hash slot.
-- KEYS[1] conversation hash
-- ARGV[1] feedback record {data, submitted_at} (JSON), ARGV[2] serialized size of the submitted
-- data, ARGV[3] the size limit
if redis.call('EXISTS', KEYS[1]) == 0 then
    return 'not_found'
end
if tonumber(ARGV[2]) > tonumber(ARGV[3]) then
    return 'too_large'
end
if redis.call('HSETNX', KEYS[1], 'feedback', ARGV[1]) == 0 then
    return 'duplicate'
end
return 'ok'
