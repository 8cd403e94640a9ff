-- Erase one conversation's widget-slot part in one step: its hash and every index entry of it in
-- the widget's slot (docs/architecture.md "Erasure").
-- KEYS[1] the conversation hash, KEYS[2] the visitor's index, KEYS[3..7] the widget's status
-- indexes (INDEXED_STATUSES), KEYS[8] the conversation's feedback rate limiter (its name holds
-- the conversation id)
-- ARGV[1] the index member "<created_ms>:<id>"
-- Returns 1 when the hash was there.
local existed = redis.call('DEL', KEYS[1])
for i = 2, 7 do
    redis.call('ZREM', KEYS[i], ARGV[1])
end
redis.call('DEL', KEYS[8])
return existed
