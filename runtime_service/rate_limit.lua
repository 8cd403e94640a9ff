-- Check several rate limits of one request at once, and count the request only when all allow it
-- (GCRA: one stored "theoretical arrival time" per key, in milliseconds of the server's clock).
-- KEYS[i] a limiter key (all in one hash slot); ARGV[2i-1] its emission interval in ms
-- (period / requests), ARGV[2i] its burst (requests).
-- Returns {1, 0} when allowed, else {0, ms until the request would be allowed, index of the
-- refusing limit}.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local updates = {}
for i, key in ipairs(KEYS) do
    local interval = tonumber(ARGV[2 * i - 1])
    local burst = tonumber(ARGV[2 * i])
    local tat = tonumber(redis.call('GET', key)) or now
    if tat < now then
        tat = now
    end
    local next_tat = tat + interval
    local allowed_at = next_tat - burst * interval
    if allowed_at > now then
        return {0, allowed_at - now, i}
    end
    updates[i] = next_tat
end
for i, key in ipairs(KEYS) do
    redis.call('SET', key, updates[i], 'PX', updates[i] - now)
end
return {1, 0, 0}
