-- The named fields of several conversations of one widget, in one call (the owner's list reads
-- a page's conversations with one call per widget rather than one command per conversation).
-- KEYS the conversation hashes, all of one widget ({w:<widget>}: one hash slot)
-- ARGV the hash fields to read
-- Returns the values, conversation after conversation; a missing value is nil.
local out = {}
for _, key in ipairs(KEYS) do
    local values = redis.call('HMGET', key, unpack(ARGV))
    for j = 1, #ARGV do
        out[#out + 1] = values[j]
    end
end
return out
