-- One stretch of a widget's index (all its conversations, or those in one status) with the
-- fields the owner's list reads of each, newest first, in one round trip.
-- KEYS[1] the index
-- ARGV[1] upper lex bound, ARGV[2] lower lex bound, ARGV[3] how many members at most,
-- ARGV[4] the conversation key prefix (member "<created_ms, 13 digits>:<id>" is prefix .. id),
-- ARGV[5..] the hash fields to read.
-- The conversation keys are computed because the index names them; they carry the index's
-- hash tag ({w:<widget>}), so the script stays within one hash slot on Redis Cluster.
-- Returns member, field values..., member, field values...; a missing value is nil (an expired
-- conversation's doc is nil: skipped by the caller).
local members = redis.call('ZREVRANGEBYLEX', KEYS[1], ARGV[1], ARGV[2], 'LIMIT', 0, ARGV[3])
local fields = {}
for i = 5, #ARGV do
    fields[#fields + 1] = ARGV[i]
end
local page = {}
for _, member in ipairs(members) do
    page[#page + 1] = member
    local values = redis.call('HMGET', ARGV[4] .. string.sub(member, 15), unpack(fields))
    for j = 1, #fields do
        page[#page + 1] = values[j]
    end
end
return page
