-- wrk script for bench/checkin.py: each wrk thread takes its share of the members (lines of
-- BENCH_SESSIONS: session cookie, CSRF token, client address) and checks each in once, as an
-- HTMX tap from the member's own phone (X-Forwarded-For: one address per member, the app runs
-- with MALL_PROXY_HOPS=1). Requests are formatted in init(), so the run is pure sending.
-- A thread stops once it has as many answers as members; a connection that asks again before
-- that sends one of its members a second time (a double tap, answered 409).
local threads = {}
local path = os.getenv("BENCH_PATH") or "/tasks/check-in"

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  local nthreads = tonumber(os.getenv("BENCH_THREADS"))
  local n = 0
  reqs = {}
  for line in io.lines(os.getenv("BENCH_SESSIONS")) do
    if n % nthreads == id then
      local cookie, token, ip = line:match("([^\t]+)\t([^\t]+)\t([^\t]+)")
      reqs[#reqs + 1] = wrk.format("POST", path, {
        ["Cookie"] = "session=" .. cookie,
        ["Content-Type"] = "application/x-www-form-urlencoded",
        ["X-Forwarded-For"] = ip,
        ["HX-Request"] = "true",
        ["HX-Target"] = "checkin",
      }, "csrf_token=" .. token)
    end
    n = n + 1
  end
  idx, answered, ok, again, other = 0, 0, 0, 0, 0
end

function request()
  idx = idx + 1
  return reqs[((idx - 1) % #reqs) + 1]
end

function response(status, headers, body)
  answered = answered + 1
  if status == 200 then ok = ok + 1 elseif status == 409 then again = again + 1 else other = other + 1 end
  if answered == #reqs then
    -- wrk waits out -d even when every thread has stopped: this file tells bench/checkin.py,
    -- which then interrupts wrk (SIGINT: wrk reports with the time it really ran).
    local f = io.open(os.getenv("BENCH_DONE_DIR") .. "/" .. id, "w")
    f:close()
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local ok_total, again_total, other_total = 0, 0, 0
  for _, t in ipairs(threads) do
    ok_total = ok_total + t:get("ok")
    again_total = again_total + t:get("again")
    other_total = other_total + t:get("other")
  end
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format(
    'WRK {"requests": %d, "seconds": %.3f, "p50_ms": %.2f, "p99_ms": %.2f, "max_ms": %.2f, ' ..
    '"s200": %d, "s409": %d, "other": %d, "socket_errors": %d, "non_2xx": %d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, ok_total, again_total, other_total, errors, summary.errors.status))
end
