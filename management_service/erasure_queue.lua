-- The queue of deleted widgets whose conversations are being erased, and each job's progress
-- (management_service/erasure_queue.py), in the `{erase}` slot.
-- KEYS[1] the queue (member "<org_id>:<widget_id>", score the ms a pod may claim it),
-- KEYS[2] the job's hash (not used by claim)
-- enqueue: ARGV member, now (ms), org id, the widget's created ms. A job already queued keeps
--   its place and its progress; its deletion time moves to this (later) attempt.
-- claim: ARGV now, lease end (ms). The first due job, rescored to the lease end so that no other
--   pod takes it until then (a pod that dies leaves it due again at the lease's end); or false.
-- save: ARGV member, the lease it was claimed with, next score, field, value, ... Only while
--   the claim holds (score still the lease): 1, else 0.
-- done: ARGV member, the lease. Only while the claim holds: removes the job (1), else 0.
local op = ARGV[1]
if op == 'enqueue' then
    redis.call('ZADD', KEYS[1], 'NX', ARGV[3], ARGV[2])
    redis.call('HSET', KEYS[2], 'org', ARGV[4], 'deleted_ms', ARGV[3], 'created_ms', ARGV[5])
    redis.call('HSETNX', KEYS[2], 'phase', 'org')
    redis.call('HSETNX', KEYS[2], 'cursor', '-')
    redis.call('HSETNX', KEYS[2], 'pass', '1')
    return 1
end
if op == 'claim' then
    local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2], 'LIMIT', 0, 1)
    if #due == 0 then
        return false
    end
    redis.call('ZADD', KEYS[1], ARGV[3], due[1])
    return due[1]
end
local score = redis.call('ZSCORE', KEYS[1], ARGV[2])
if not score or tonumber(score) ~= tonumber(ARGV[3]) then
    return 0
end
if op == 'save' then
    redis.call('ZADD', KEYS[1], ARGV[4], ARGV[2])
    if #ARGV > 4 then
        redis.call('HSET', KEYS[2], unpack(ARGV, 5))
    end
    return 1
end
redis.call('ZREM', KEYS[1], ARGV[2])
redis.call('DEL', KEYS[2])
return 1
