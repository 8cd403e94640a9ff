-- Index a new conversation in its organization's slot (the organization's conversations API).
-- KEYS[1] the organization's index, KEYS[2] the organization's index of this visitor (erasure)
-- ARGV[1] member "<created_ms>:<id>:<widget_id>", ARGV[2] exclusive lex bound below which
-- members are past retention, ARGV[3] retention (s)
for i = 1, 2 do
    redis.call('ZADD', KEYS[i], 0, ARGV[1])
    redis.call('ZREMRANGEBYLEX', KEYS[i], '-', ARGV[2])
    redis.call('EXPIRE', KEYS[i], ARGV[3])
end
return 1
