-- One wrk script for every scenario, driven by environment variables the benchmark sets:
--   BENCH_METHOD, BENCH_PATH   request line; "{n}" in the path or body is a per-request counter
--   BENCH_BODY                 request body (JSON) or empty
--   BENCH_HEADERS              extra headers, "Name: value" lines separated by "\n"
--   BENCH_IDS                  optional file of ids, one per line: "{id}" takes the next one;
--                              a line "<id>\t<authorization>" also sends that Authorization header
--                              (pre-signed requests: bench/webhooks.py)
-- done() prints one JSON line the benchmark parses: requests, duration, latency percentiles and
-- a count per status code, so an unexpected status is never hidden inside a throughput figure.

local threads = {}
local counter = 0
local ids = nil
local next_id = 0
statuses = {}

function setup(thread)
  thread:set("thread_index", #threads)
  table.insert(threads, thread)
end

local method = os.getenv("BENCH_METHOD") or "GET"
local path = os.getenv("BENCH_PATH") or "/"
local body = os.getenv("BENCH_BODY") or ""
local headers = { ["Content-Type"] = "application/json" }
for line in string.gmatch(os.getenv("BENCH_HEADERS") or "", "[^\n]+") do
  local name, value = string.match(line, "^([^:]+):%s*(.*)$")
  if name then headers[name] = value end
end

function init(args)
  local file = os.getenv("BENCH_IDS")
  if file and file ~= "" then
    ids = {}
    for line in io.lines(file) do table.insert(ids, line) end
  end
end

local templated = string.find(path .. body, "{", 1, true) ~= nil

function request()
  if not templated then
    return wrk.format(method, path, headers, body ~= "" and body or nil)
  end
  counter = counter + 1
  local n = tostring(counter) .. "-" .. tostring(thread_index or 0)
  local p, b = path:gsub("{n}", n), body:gsub("{n}", n)
  if ids then
    next_id = next_id + 1
    local id = ids[((next_id - 1) % #ids) + 1]
    local value, authorization = string.match(id, "^([^\t]*)\t(.*)$")
    if value then
      id = value
      headers["Authorization"] = authorization
    end
    -- A function replacement: the id is used as it is, "%" included.
    local with_id = function() return id end
    p, b = p:gsub("{id}", with_id), b:gsub("{id}", with_id)
  end
  return wrk.format(method, p, headers, b ~= "" and b or nil)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local merged = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      merged[status] = (merged[status] or 0) + count
    end
  end
  local parts = {}
  for status, count in pairs(merged) do
    table.insert(parts, string.format('"%d": %d', status, count))
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, ' ..
    '"socket_errors": %d, "statuses": {%s}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, table.concat(parts, ", ")))
end
