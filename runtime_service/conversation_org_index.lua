-- Index a new conversation in its organization's slot (the organization's conversations API).
-- KEYS[1] the organization's index
-- ARGV[1] member "<created_ms>:<id>:<widget_id>", ARGV[2] exclusive lex bound below which
-- members are past retention, ARGV[3] retention (s)
redis.call('ZADD', KEYS[1], 0, ARGV[1])
redis.call('ZREMRANGEBYLEX', KEYS[1], '-', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
