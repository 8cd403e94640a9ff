-- One page of a widget's conversations, newest first, in one round trip.
-- KEYS[1] the index (the widget's, or one visitor's within it)
-- ARGV[1] upper lex bound, ARGV[2] lower lex bound, ARGV[3] how many members at most,
-- ARGV[4] the conversation key prefix: member "<created_ms, 13 digits>:<id>" is prefix .. id.
-- The conversation keys are computed because the index names them; they carry the index's
-- hash tag ({w:<widget>}), so the script stays within one hash slot on Redis Cluster.
-- Returns member, doc, member, doc, ...; an expired conversation's doc is "" (skipped).
local members = redis.call('ZREVRANGEBYLEX', KEYS[1], ARGV[1], ARGV[2], 'LIMIT', 0, ARGV[3])
local page = {}
for i, member in ipairs(members) do
    page[2 * i - 1] = member
    page[2 * i] = redis.call('HGET', ARGV[4] .. string.sub(member, 15), 'doc') or ''
end
return page
