-- Write one widget document and publish its invalidation event in the same atomic step, so no
-- committed write goes unannounced and no event announces a write that did not happen.
-- KEYS[1] the widget document key
-- ARGV[1] mode: "create" (the key must not exist), "replace" or "delete" (the key must hold
--         exactly ARGV[2], the bytes the caller read: compare-and-set)
-- ARGV[2] the expected current value ("" for create)
-- ARGV[3] the new value ("" for delete)
-- ARGV[4] the invalidation channel
-- ARGV[5] the event (WidgetChanged JSON)
-- Returns 1 when written and published, 0 on a conflict (nothing written, nothing published).
local mode = ARGV[1]
if mode == 'create' then
  if redis.call('EXISTS', KEYS[1]) == 1 then
    return 0
  end
elseif redis.call('GET', KEYS[1]) ~= ARGV[2] then
  return 0
end
if mode == 'delete' then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], ARGV[3])
end
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1
