-- Create the next version of an agent atomically: number it, store it, index it.
-- KEYS[1] versions hash (field "seq" = last number, field "<number>" = version id)
-- KEYS[2] version key (<prefix>:{a:<agent_id>}:version:<version_id>)
-- ARGV[1] version id
-- ARGV[2] version JSON with the placeholder number 0 ("\"version\":0")
-- Returns the new version JSON (with its number filled in), or the stored one when the version
-- already exists (an earlier attempt under the same Idempotency-Key wrote it).
local existing = redis.call('GET', KEYS[2])
if existing then
  return existing
end
local number = redis.call('HINCRBY', KEYS[1], 'seq', 1)
local doc = string.gsub(ARGV[2], '"version":0,', '"version":' .. number .. ',', 1)
redis.call('HSET', KEYS[1], tostring(number), ARGV[1])
redis.call('SET', KEYS[2], doc)
return doc
