-- One Idempotency-Key record (a hash in the organization's slot), changed atomically.
-- Fields: fp (method, path and body fingerprint), state ("pending" or "done"), token (the
-- attempt holding the key), lease (ms, until when that attempt holds it), id and ms (the
-- identity the created resource gets, the same on every attempt), status and body (when done).
-- KEYS[1] the record
-- ARGV[1] op: "reserve", "finish" or "release"
-- reserve: ARGV[2] fp, ARGV[3] token, ARGV[4] lease ms, ARGV[5] id, ARGV[6] ms, ARGV[7] ttl ms
--   Returns {"reserved", id, ms} (this attempt holds the key), {"mismatch"} (another request
--   used the key), {"busy"} (an attempt still holds it) or {"done", status, body}.
-- finish: ARGV[2] token, ARGV[3] status, ARGV[4] body, ARGV[5] ttl ms. Returns 1, or 0 when the
--   attempt no longer held the key.
-- release: ARGV[2] token, ARGV[3] "forget" (nothing was written: drop the record) or "keep"
--   (the outcome is unknown: keep the identity for a retry). Returns 1 or 0 as finish.
local op = ARGV[1]
local key = KEYS[1]
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)

if op == 'reserve' then
  local record = redis.call('HMGET', key, 'fp', 'state', 'lease', 'id', 'ms', 'status', 'body')
  if not record[1] then
    redis.call('HSET', key, 'fp', ARGV[2], 'state', 'pending', 'token', ARGV[3],
      'lease', now_ms + tonumber(ARGV[4]), 'id', ARGV[5], 'ms', ARGV[6])
    redis.call('PEXPIRE', key, ARGV[7])
    return {'reserved', ARGV[5], ARGV[6]}
  end
  if record[1] ~= ARGV[2] then
    return {'mismatch'}
  end
  if record[2] == 'done' then
    return {'done', record[6], record[7]}
  end
  if tonumber(record[3]) > now_ms then
    return {'busy'}
  end
  -- The last attempt failed or died: this one takes over, with the same identity.
  redis.call('HSET', key, 'token', ARGV[3], 'lease', now_ms + tonumber(ARGV[4]))
  return {'reserved', record[4], record[5]}
end

if redis.call('HGET', key, 'token') ~= ARGV[2] then
  return 0
end
if op == 'finish' then
  redis.call('HSET', key, 'state', 'done', 'status', ARGV[3], 'body', ARGV[4], 'lease', 0)
  redis.call('PEXPIRE', key, ARGV[5])
elseif ARGV[3] == 'forget' then
  redis.call('DEL', key)
else
  redis.call('HSET', key, 'lease', 0)
end
return 1
