-- One stretch of a widget's conversations, newest first, with the named fields of each, in one
-- round trip (both services' lists).
-- KEYS the index, or several whose members are disjoint and merged (a widget's status indexes:
-- each conversation is in exactly one), all of one widget ({w:<widget>}: one hash slot)
-- ARGV[1] upper lex bound, ARGV[2] lower lex bound, ARGV[3] how many members at most,
-- ARGV[4] the conversation key prefix: member "<created_ms, 13 digits>:<id>" is prefix .. id,
-- ARGV[5..] the hash fields to read (common/conversation_record.py SAFE_FIELDS, and more).
-- The conversation keys are computed because the indexes name them; they carry the indexes'
-- hash tag, so the script stays within one hash slot on Redis Cluster.
-- Returns member, its field values, member, ...; an expired conversation's are nil (skipped).
local count = tonumber(ARGV[3])
local members = redis.call('ZREVRANGEBYLEX', KEYS[1], ARGV[1], ARGV[2], 'LIMIT', 0, count)
if #KEYS > 1 then
    -- The newest `count` of the union are among each index's newest `count`.
    for i = 2, #KEYS do
        local more = redis.call('ZREVRANGEBYLEX', KEYS[i], ARGV[1], ARGV[2], 'LIMIT', 0, count)
        for _, member in ipairs(more) do
            members[#members + 1] = member
        end
    end
    table.sort(members, function(a, b) return a > b end)
    for i = #members, count + 1, -1 do
        members[i] = nil
    end
end
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
