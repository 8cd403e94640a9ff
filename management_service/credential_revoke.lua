-- Delete one credential and publish its invalidation event in the same atomic step, so every
-- management process drops its cached copy of what was revoked (credential_cache.py).
-- KEYS[1] the credential's key
-- ARGV[1] the credential channel
-- ARGV[2] the event (CredentialChanged JSON)
-- Returns the number of keys deleted (0 or 1). The event is published either way: a copy cached
-- by a process must go even when the key was already gone.
local deleted = redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[1], ARGV[2])
return deleted
