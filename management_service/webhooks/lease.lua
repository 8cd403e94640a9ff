-- A lease (the fan-out reader's, or one delivery shard's): one key, its value the holder's id,
-- expiring unless renewed, so a dead worker's lease passes to another after its TTL.
-- KEYS[1] the lease
-- ARGV[1] acquire | renew | release, ARGV[2] the worker id, ARGV[3] TTL (ms)
-- Returns 1 when the caller holds it (acquire, renew) or no longer holds it (release), else 0.
local holder = redis.call('GET', KEYS[1])
if ARGV[1] == 'acquire' then
  if holder and holder ~= ARGV[2] then
    return 0
  end
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
elseif ARGV[1] == 'renew' then
  if holder ~= ARGV[2] then
    return 0
  end
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return 1
end
if holder == ARGV[2] then
  redis.call('DEL', KEYS[1])
end
return 1
