-- One page of a widget's conversations, newest first, in one round trip.
-- KEYS[1] the index (the widget's, or one visitor's within it)
-- ARGV[1] upper lex bound, ARGV[2] lower lex bound, ARGV[3] how many members at most,
-- ARGV[4] the conversation key prefix: member "<created_ms, 13 digits>:<id>" is prefix .. id,
-- ARGV[5..] the safe columns' fields (common/conversation_record.py SAFE_FIELDS).
-- The conversation keys are computed because the index names them; they carry the index's
-- hash tag ({w:<widget>}), so the script stays within one hash slot on Redis Cluster.
-- Returns member, its field values, member, ...; an expired conversation's are nil (skipped).
local members = redis.call('ZREVRANGEBYLEX', KEYS[1], ARGV[1], ARGV[2], 'LIMIT', 0, ARGV[3])
local fields = {unpack(ARGV, 5)}
local page = {}
for _, member in ipairs(members) do
    page[#page + 1] = member
    local values = redis.call('HMGET', ARGV[4] .. string.sub(member, 15), unpack(fields))
    for j = 1, #fields do
        page[#page + 1] = values[j]
    end
end
return page
