-- wrk script for bench/run.py: counts unexpected responses and prints one JSON line at the end.
-- Latencies are in microseconds (wrk's unit). Extra request headers come from wrk's -H.
--
-- Optional, from the environment (bench/run.py sets them per scenario):
--   BENCH_WRK_BODY_FILE      send this file's bytes as the body of every request (method POST)
--   BENCH_WRK_PATHS_FILE     rotate through these request paths, one per line
--   BENCH_WRK_UNIQUE_HEADER  "Name: prefix": every request gets Name: prefix-<thread>-<n>,
--                            unique within the run (e.g. a fresh Idempotency-Key)
--   BENCH_WRK_EXPECT_STATUS  count every other status as bad (default: anything but 2xx)
-- With none of the first three set, requests are static (wrk builds them once per thread).

local threads = {}
local body_file = os.getenv("BENCH_WRK_BODY_FILE")
local paths_file = os.getenv("BENCH_WRK_PATHS_FILE")
local unique_header = os.getenv("BENCH_WRK_UNIQUE_HEADER")
local expect_status = tonumber(os.getenv("BENCH_WRK_EXPECT_STATUS") or "")

local function read_file(path)
  local handle = assert(io.open(path, "rb"))
  local content = handle:read("*a")
  handle:close()
  return content
end

if body_file then
  wrk.method = "POST"
  wrk.body = read_file(body_file)
end

local paths = {}
if paths_file then
  for line in io.lines(paths_file) do
    if line ~= "" then
      table.insert(paths, line)
    end
  end
end

local header_name, header_prefix
if unique_header then
  header_name, header_prefix = unique_header:match("^([^:]+):%s*(.+)$")
end

function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_number", #threads)
end

function init(args)
  non_2xx = 0
  first_bad_status = 0
  counter = 0
end

if paths_file or header_name then
  -- Defined only when needed: a script with request() makes wrk build every request anew.
  function request()
    counter = counter + 1
    local path = nil
    if #paths > 0 then
      path = paths[((counter + thread_number) % #paths) + 1]
    end
    if header_name then
      wrk.headers[header_name] = string.format(
        "%s-%d-%d", header_prefix, thread_number, counter)
    end
    return wrk.format(nil, path)
  end
end

function response(status, headers, body)
  local bad
  if expect_status then
    bad = status ~= expect_status
  else
    bad = status < 200 or status > 299
  end
  if bad then
    non_2xx = non_2xx + 1
    if first_bad_status == 0 then
      first_bad_status = status
    end
  end
end

function done(summary, latency, requests)
  local bad = 0
  local bad_status = 0
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("non_2xx")
    local status = thread:get("first_bad_status")
    if bad_status == 0 and status ~= 0 then
      bad_status = status
    end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"non_2xx": %d, "first_bad_status": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"latency_us": {"mean": %.1f, "stdev": %.1f, "max": %d, ' ..
    '"p50": %d, "p90": %d, "p95": %d, "p99": %d}}\n',
    summary.requests, summary.duration, summary.bytes, bad, bad_status,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency.stdev, latency.max,
    latency:percentile(50), latency:percentile(90), latency:percentile(95),
    latency:percentile(99)))
end
