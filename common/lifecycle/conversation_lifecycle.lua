-- Every change of a conversation's lifecycle, in the widget's hash slot (docs/lifecycle.md).
-- KEYS[1] the conversation hash; KEYS[2..6] the widget's status indexes (token_created,
-- in_progress, completed, failed, cancelled: INDEXED_STATUSES), which `save` keeps in step;
-- KEYS[7] (optional) the widget's stats hash of now's UTC day (common/widget_stats.py)
-- ARGV[1] operation: event | resume | sweep | report | end
-- ARGV[2] now (ms), ARGV[3] now (ISO 8601, for updated_at and event timestamps)
-- ARGV[4] LIFECYCLE_SETTLE (ms), ARGV[5] event id base ("evt_<hex>", per call)
-- ARGV[6..] per operation:
--   event:  event id, kind, room, at (s), who (visitor|agent|other), participant sid
--   resume: room, deadline (ms)
--   sweep:  (none)
--   report: fields (JSON: user_turn_count, summary, transcript, ended_reason; absent = unchanged),
--           max transcript items, max transcript bytes, summary grace (ms)
--   end:    (none)
-- ARGV[#ARGV], with KEYS[7] only: STATS_RETENTION (s), after the operation's arguments
-- Returns {outcome, status, next due (ms, 0 = none), doc, outbox field, event, ...}:
-- outcome is ok | duplicate | not_found | terminal | too_large | unchanged. The events are
-- written to `outbox:<id>` fields in the same step, as snapshots (see `emit`; the feedback
-- script writes its own); the caller publishes and deletes them.
-- Status and duration are a function of the stored facts and the time, never of arrival order.
local conv = KEYS[1]
local op, now, now_iso = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local settle, event_base = tonumber(ARGV[4]), ARGV[5]
local MAX_SEEN = 500
local TERMINAL = {completed = 1, failed = 1, cancelled = 1, transferred = 1, unanswered = 1}

-- The safe columns (common/conversation_record.py SAFE_FIELDS), as the API's document: the
-- conversation's and widget's ids come from the key, direction and channel are a web widget's.
local COLUMNS = {'s', 'o', 'u', 'a', 'v', 'd', 't', 'c', 'm'}
local cols = redis.call('HMGET', conv, unpack(COLUMNS))
if not cols[1] then
    return {'not_found', '', 0, ''}
end
local widget_id, conversation_id = string.match(conv, '{w:(.-)}:conv:(.+)$')
local doc = {
    id = conversation_id, organization_id = cols[2], direction = 'inbound', channel = 'webrtc',
    status = cols[1], user_id = cols[3], agent_id = cols[4], agent_version_id = cols[5],
    web_widget_id = widget_id, duration = tonumber(cols[6]) or cjson.null,
    user_turn_count = tonumber(cols[7]) or cjson.null, created_at = cols[8], updated_at = cols[9],
}
local STATUS_INDEX = {
    token_created = KEYS[2], in_progress = KEYS[3], completed = KEYS[4], failed = KEYS[5],
    cancelled = KEYS[6],
}
local indexed_status = doc['status']

-- All stored fields, as a table (the facts are few; the seen ids are bounded).
local function fields()
    local flat = redis.call('HGETALL', conv)
    local out = {}
    for i = 1, #flat, 2 do
        out[flat[i]] = flat[i + 1]
    end
    return out
end

-- The visitor's seconds in the rooms: closed sessions only; a session still open when its room
-- finished ends then; `close_at` (s) ends every other open session (the end call).
local function duration(f, close_at)
    local total = 0
    for name, joined in pairs(f) do
        local room, sid = string.match(name, '^vj:(.+):([^:]+)$')
        if room then
            local left = f['vl:' .. room .. ':' .. sid] or f['fin:' .. room]
            left = tonumber(left) or close_at
            if left then
                total = total + math.max(0, left - tonumber(joined))
            end
        end
    end
    return total
end

local function visitor_in(f, room)
    local prefix = 'vj:' .. room .. ':'
    for name in pairs(f) do
        if string.sub(name, 1, #prefix) == prefix then
            return true
        end
    end
    return false
end

-- The widget's daily counters: emit and finish run once per transition (a terminal status
-- never changes, in_progress is reached once), so each conversation counts once in each.
local stats = KEYS[7]
local function count(name, by)
    if stats then
        redis.call('HINCRBY', stats, name, by or 1)
        redis.call('EXPIRE', stats, ARGV[#ARGV])
    end
end

-- An event is its kind's letter and what of the document may change later: the outbox field
-- and the stream keep only that (common/lifecycle/events.py outbox_value), and the webhook
-- fan-out renders the JSON from it and the unchanging columns.
local KIND_LETTER = {
    ['conversation.started'] = 's', ['conversation.in_progress'] = 'i',
    ['conversation.ended'] = 'e',
}

local function null_or(value)
    if value == cjson.null then
        return ''
    end
    return tostring(value)
end

local outbox = {}
local function emit(kind)
    if kind == 'conversation.in_progress' then
        count('in_progress')
    end
    local id = event_base
    if #outbox > 0 then
        id = event_base .. '_' .. (#outbox / 2 + 1)
    end
    local snapshot = table.concat({
        KIND_LETTER[kind], doc['status'], now_iso, null_or(doc['duration']),
        null_or(doc['user_turn_count']),
    }, '|')
    redis.call('HSET', conv, 'outbox:' .. id, snapshot)
    outbox[#outbox + 1] = 'outbox:' .. id
    outbox[#outbox + 1] = snapshot
end

local function finish(status, f, close_at)
    doc['status'] = status
    doc['duration'] = duration(f, close_at)
    doc['updated_at'] = now_iso
    redis.call('HSET', conv, 'ended_ms', now)
    count(status)
    if f['joined'] == '1' then -- only a call the visitor joined has a duration worth averaging
        count('duration_total', doc['duration'])
        count('duration_count')
    end
    emit('conversation.ended')
end

-- Apply what the facts and the time decide; returns the next time (ms) to look again, or 0.
local function evaluate(f)
    if TERMINAL[doc['status']] then
        return 0
    end
    local room = f['room'] or ''
    local joined = f['joined'] == '1'
    if joined and doc['status'] == 'token_created' then
        doc['status'] = 'in_progress'
        doc['updated_at'] = now_iso
        emit('conversation.in_progress')
    end
    local finished = tonumber(f['fin:' .. room])
    if finished then
        local due = finished * 1000 + settle
        if now < due then
            return due
        end
        if not f['agent:' .. room] then
            finish('failed', f)
        elseif visitor_in(f, room) or joined then
            finish('completed', f)
        else
            finish('cancelled', f)
        end
        return 0
    end
    if not joined then
        local due = (tonumber(f['deadline']) or 0) + settle
        if f['agent:' .. room] then
            return 0 -- a room exists: its room_finished decides
        end
        if now < due then
            return due
        end
        finish('cancelled', f)
        return 0
    end
    local so_far = duration(f)
    if so_far > 0 then
        doc['duration'] = so_far
    end
    return 0 -- in progress: the room's room_finished brings it back
end

local function reply(outcome, due)
    local encoded = cjson.encode(doc)
    return {outcome, doc['status'], due, encoded, unpack(outbox)}
end

-- Move the conversation's member (`ix`, written at creation) to its new status's index, trimming
-- that index by the conversation's own retention: it expires at created + retention, so members
-- created before (created - its remaining ttl) are past retention.
local function move_index(old, new)
    local member = redis.call('HGET', conv, 'ix')
    if not member then
        return
    end
    if STATUS_INDEX[old] then
        redis.call('ZREM', STATUS_INDEX[old], member)
    end
    local key = STATUS_INDEX[new]
    if not key then
        return
    end
    redis.call('ZADD', key, 0, member)
    local ttl = redis.call('PTTL', conv)
    if ttl > 0 then
        local expired = math.max(tonumber(string.sub(member, 1, 13)) - ttl, 0)
        redis.call('ZREMRANGEBYLEX', key, '-', '(' .. string.format('%013d', expired) .. ':')
        if redis.call('PTTL', key) < ttl then
            redis.call('PEXPIRE', key, ttl)
        end
    end
end

local function save()
    redis.call('HSET', conv, 's', doc['status'], 'm', doc['updated_at'])
    if doc['duration'] ~= cjson.null then
        redis.call('HSET', conv, 'd', doc['duration'])
    end
    if doc['user_turn_count'] ~= cjson.null then
        redis.call('HSET', conv, 't', doc['user_turn_count'])
    end
    if doc['status'] ~= indexed_status then
        move_index(indexed_status, doc['status'])
        indexed_status = doc['status']
    end
end

if op == 'event' then
    local event_id, kind, room, at, who, sid = ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10], ARGV[11]
    local seen = 'seen:' .. event_id
    if redis.call('HEXISTS', conv, seen) == 1 then
        return reply('duplicate', 0)
    end
    if TERMINAL[doc['status']] then
        return reply('terminal', 0)
    end
    -- Every fact is idempotent on its own; the seen ids only spare repeated work, so past the
    -- bound they are no longer recorded.
    if tonumber(redis.call('HINCRBY', conv, 'seen_n', 1)) <= MAX_SEEN then
        redis.call('HSET', conv, seen, '1')
    end
    if kind == 'participant_joined' and who == 'visitor' then
        local name = 'vj:' .. room .. ':' .. sid
        local old = tonumber(redis.call('HGET', conv, name))
        if not old or tonumber(at) < old then
            redis.call('HSET', conv, name, at)
        end
        redis.call('HSET', conv, 'joined', '1')
    elseif kind == 'participant_joined' and who == 'agent' then
        local old = tonumber(redis.call('HGET', conv, 'agent:' .. room))
        if not old or tonumber(at) < old then
            redis.call('HSET', conv, 'agent:' .. room, at)
        end
    elseif (kind == 'participant_left' or kind == 'participant_connection_aborted')
        and who == 'visitor' then
        local name = 'vl:' .. room .. ':' .. sid
        local old = tonumber(redis.call('HGET', conv, name))
        if not old or tonumber(at) > old then
            redis.call('HSET', conv, name, at)
        end
    elseif kind == 'room_finished' then
        redis.call('HSET', conv, 'fin:' .. room, at)
    end
    local due = evaluate(fields())
    save()
    return reply('ok', due)
elseif op == 'resume' then
    if TERMINAL[doc['status']] then
        return reply('terminal', 0)
    end
    redis.call('HSET', conv, 'room', ARGV[6], 'deadline', ARGV[7])
    local due = evaluate(fields())
    save()
    return reply('ok', due)
elseif op == 'sweep' then
    local f = fields()
    local due = evaluate(f)
    save()
    -- Leftovers of a caller that did not publish (it died, or Redis failed it): published again.
    for name, value in pairs(f) do
        if string.sub(name, 1, 7) == 'outbox:' then
            outbox[#outbox + 1] = name
            outbox[#outbox + 1] = value
        end
    end
    return reply('ok', due)
elseif op == 'report' then
    local input = cjson.decode(ARGV[6])
    local max_items, max_bytes, grace = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
    if TERMINAL[doc['status']] then
        -- Only a summary, and only within the grace period after the end.
        local ended = tonumber(redis.call('HGET', conv, 'ended_ms')) or 0
        local only_summary = input['summary'] ~= nil
        for k in pairs(input) do
            if k ~= 'summary' then
                only_summary = false
            end
        end
        if not only_summary or now > ended + grace then
            return reply('terminal', 0)
        end
    end
    if input['transcript'] ~= nil then
        local stored = redis.call('HGET', conv, 'transcript')
        local items = stored and cjson.decode(stored) or {}
        for _, item in ipairs(input['transcript']) do
            items[#items + 1] = item
        end
        local encoded = #items > 0 and cjson.encode(items) or '[]'
        if #items > max_items or #encoded > max_bytes then
            return reply('too_large', 0)
        end
        redis.call('HSET', conv, 'transcript', encoded)
    end
    if input['summary'] ~= nil then
        redis.call('HSET', conv, 'summary', input['summary'])
    end
    if input['ended_reason'] ~= nil then
        redis.call('HSET', conv, 'ended_reason', input['ended_reason'])
    end
    local turns = input['user_turn_count']
    if turns ~= nil then
        local old = tonumber(doc['user_turn_count']) or 0
        if doc['user_turn_count'] == cjson.null or turns > old then
            doc['user_turn_count'] = turns
        end
    end
    doc['updated_at'] = now_iso
    save()
    return reply('ok', 0)
elseif op == 'end' then
    if TERMINAL[doc['status']] then
        return reply('unchanged', 0)
    end
    local f = fields()
    if f['joined'] == '1' and doc['status'] == 'token_created' then
        doc['status'] = 'in_progress'
        emit('conversation.in_progress')
    end
    finish('completed', f, math.floor(now / 1000))
    save()
    return reply('ok', 0)
end
return redis.error_reply('unknown operation ' .. tostring(op))
