-- wrk script for bench/checkout_wrk.py (issue 15). The bench writes bench params in a
-- generated file that sets MEMBERS, MODE, PATH, ... and then loads this one.
--
-- Modes:
--   steady    every request a new checkout (fresh key), members in turn per thread
--   sellout   each connection sends ONE checkout for its own member, then waits (a delay
--             longer than the run): the latencies wrk reports are those first requests only
--   refusals  taps on a sold-out item; every other one repeats the member's previous key
--             (a duplicate submit)
--   ceiling / ceiling_once   the bare endpoint, in steady or sell-out fashion
local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  sent, delays, ok, refused, other = 0, 0, 0, 0, 0
end

function delay()
  delays = delays + 1
  if (MODE == "sellout" or MODE == "ceiling_once") and delays > PER_THREAD then
    return 3600000  -- this connection has sent its one request
  end
  return 0
end

local function member(i)
  return MEMBERS[(i % #MEMBERS) + 1]
end

function request()
  sent = sent + 1
  if MODE == "ceiling" or MODE == "ceiling_once" then
    return wrk.format("POST", PATH, {["Content-Length"] = "0"}, "")
  end
  local index, key
  if MODE == "sellout" then
    index = tid + THREADS * (sent - 1)  -- distinct across threads and connections
    key = RUN .. "-" .. index
  else
    local round = sent
    if MODE == "refusals" and sent % 2 == 0 then round = sent - 1 end  -- a duplicate submit
    index = tid + THREADS * round
    key = RUN .. "-" .. tid .. "-" .. round
  end
  local m = member(index)
  local body = "csrf_token=" .. m[2] .. "&plan_id=" .. PLAN .. "&quantity=1&key=" .. key
  return wrk.format("POST", PATH, {
    ["Cookie"] = "session=" .. m[1] .. "; mall_device=" .. m[3],
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Referer"] = ORIGIN .. "/catalog",
    ["HX-Request"] = "true", ["HX-Target"] = "buy",
  }, body)
end

function response(status, headers, body)
  if status == 200 then ok = ok + 1 elseif status == 409 then refused = refused + 1 else other = other + 1 end
end

function done(summary, latency, requests)
  local ok_, refused_, other_ = 0, 0, 0
  for _, t in ipairs(threads) do
    ok_ = ok_ + t:get("ok"); refused_ = refused_ + t:get("refused"); other_ = other_ + t:get("other")
  end
  io.write(string.format(
    'WRK {"requests": %d, "duration_s": %.4f, "ok": %d, "refused": %d, "other": %d, ' ..
    '"errors": %d, "p50_ms": %.2f, "p90_ms": %.2f, "p99_ms": %.2f, "max_ms": %.2f}\n',
    summary.requests, summary.duration / 1e6, ok_, refused_, other_,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000))
end
