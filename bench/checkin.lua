-- wrk script for bench/checkin.py: each wrk thread takes its share of the members (lines of
-- BENCH_SESSIONS: session cookie, CSRF token, client address) and taps each one's check-in
-- exactly once, as an HTMX tap from the member's own phone (X-Forwarded-For: one address per
-- member, the app runs with MALL_PROXY_HOPS=1). Requests are formatted in init(), so the run
-- is pure sending.
--
-- Every tap is a member's first tap of the run, sent once, so every answer counted is a first
-- answer. What the script used to do, and why it miscounted:
-- * it wrapped around: wrk asks request() again as soon as an answer arrives, and once every
--   member was sent the script tapped the thread's first members again; those quick 409s were
--   counted in place of the last first taps still in flight (those members were credited,
--   their answers never counted): the README's "409s of members credited once". Now a
--   connection with no member left waits (delay()), and one that is asked anyway (several
--   connections passed delay() for the last member) sends NOOP, which is not a tap.
-- * wrk calls request() once on thread 0 to check the request before any connection exists
--   (script_verify_request): that call used to consume thread 0's first member. It is the
--   only request() that comes before any delay(), and it gets NOOP.
-- * wrk never re-sends a request whose connection failed: it reconnects and asks request()
--   for the next one. That member stays unanswered (counted, see done()); a thread stops when
--   all its members are answered, or bench/checkin.py stops wrk when no answer comes.
--   `unanswered` is the count that matters: `socket_errors` also counts a waiting connection
--   that gunicorn closed after its keep-alive (30 s; wrk reconnects and keeps waiting).
local threads = {}
local path = os.getenv("BENCH_PATH") or "/tasks/check-in"
local never = 6000000  -- ms: longer than any run (bench/checkin.py stops wrk first)
local NOOP_PATH = "/bench-no-tap"  -- answered 404 by the app and the ceiling: not a tap, not counted

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
  noop = wrk.format("GET", NOOP_PATH)
  sent, delays, answered, ok, again, other, noops = 0, 0, 0, 0, 0, 0, 0
  nreqs = #reqs
  progress = os.getenv("BENCH_DONE_DIR") .. "/progress-" .. id
end

function delay()
  -- wrk calls this before each request of a connection: one with no member left waits
  delays = delays + 1
  if sent >= #reqs then return never end
  return 0
end

function request()
  if delays == 0 or sent >= #reqs then return noop end  -- wrk's check, or no member left
  sent = sent + 1
  return reqs[sent]
end

function finish()
  -- wrk waits out -d even when every thread has stopped: this file tells bench/checkin.py,
  -- which then interrupts wrk (SIGINT: wrk reports with the time it really ran).
  local f = io.open(os.getenv("BENCH_DONE_DIR") .. "/" .. id, "w")
  f:close()
  wrk.thread:stop()
end

function response(status, headers, body)
  if status == 404 then noops = noops + 1 return end
  answered = answered + 1
  if status == 200 then ok = ok + 1 elseif status == 409 then again = again + 1 else other = other + 1 end
  if answered % 50 == 0 or nreqs - answered < 200 then  -- bench/checkin.py's stall check reads it
    local f = io.open(progress, "w")
    f:write(answered)
    f:close()
  end
  if answered == #reqs then finish() end
end

function done(summary, latency, requests)
  local members, ok_total, again_total, other_total, noop_total = 0, 0, 0, 0, 0
  for _, t in ipairs(threads) do
    members = members + t:get("nreqs")
    ok_total = ok_total + t:get("ok")
    again_total = again_total + t:get("again")
    other_total = other_total + t:get("other")
    noop_total = noop_total + t:get("noops")
  end
  local e = summary.errors
  io.write(string.format(
    'WRK {"requests": %d, "seconds": %.3f, "p50_ms": %.2f, "p99_ms": %.2f, "max_ms": %.2f, ' ..
    '"members": %d, "s200": %d, "s409": %d, "other": %d, "unanswered": %d, ' ..
    '"noops": %d, "socket_errors": %d, "timeouts": %d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, members, ok_total, again_total, other_total,
    members - ok_total - again_total - other_total,
    noop_total, e.connect + e.read + e.write, e.timeout))
end
