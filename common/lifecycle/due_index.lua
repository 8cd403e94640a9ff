-- The sweep's due index: one shard `{p}:{due:<n>}:conversations`, member `<widget>:<conversation>`,
-- score the ms at which the conversation must be looked at.
-- KEYS[1] the shard
-- claim: ARGV[1] 'claim', ARGV[2] now (ms), ARGV[3] lease end (ms), ARGV[4] at most this many
--   Returns the members due, each rescored to the lease end, so that no other pod takes them
--   until then (a pod that dies mid-sweep leaves them due again at the lease's end).
-- done: ARGV[1] 'done', ARGV[2] member, ARGV[3] the lease end it was claimed with, ARGV[4] the
--   next time (ms, 0 = none). Untouched since the claim: rescheduled or removed. Rescored by a
--   writer meanwhile: only moved earlier, never later, so the writer's wake-up is kept.
if ARGV[1] == 'claim' then
    local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2], 'LIMIT', 0, ARGV[4])
    for _, member in ipairs(due) do
        redis.call('ZADD', KEYS[1], ARGV[3], member)
    end
    return due
end
local score = redis.call('ZSCORE', KEYS[1], ARGV[2])
if not score then
    if ARGV[4] ~= '0' then
        redis.call('ZADD', KEYS[1], ARGV[4], ARGV[2])
    end
    return 1
end
if tonumber(score) == tonumber(ARGV[3]) then
    if ARGV[4] == '0' then
        redis.call('ZREM', KEYS[1], ARGV[2])
    else
        redis.call('ZADD', KEYS[1], ARGV[4], ARGV[2])
    end
elseif ARGV[4] ~= '0' then
    redis.call('ZADD', KEYS[1], 'LT', ARGV[4], ARGV[2])
end
return 1
