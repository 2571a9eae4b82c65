-- POST the JSON body in the file BENCH_BODY. With BENCH_VARY=1 every "__N__" in the body becomes a
-- number no other request of this run used (cache misses through the gateway); counting starts
-- at BENCH_START so repeats never reuse an earlier repeat's keys. done() prints one JSON line.

local file = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
local template = file:read("*a")
file:close()

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = template

local threads = {}

function setup(thread)
  thread:set("thread_index", #threads)
  table.insert(threads, thread)
end

if os.getenv("BENCH_VARY") == "1" then
  local counter = 0

  function init(args)
    counter = tonumber(os.getenv("BENCH_START") or "1") + thread_index * 10000000
  end

  function request()
    local body = template:gsub("__N__", function()
      counter = counter + 1
      return string.format("%d", counter)
    end)
    return wrk.format(nil, nil, nil, body)
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests": %d, "duration_us": %d, "bytes": %d, "errors_connect": %d, ' ..
    '"errors_read": %d, "errors_write": %d, "errors_status": %d, "errors_timeout": %d, ' ..
    '"latency_mean_us": %.1f, "latency_max_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency.mean, latency.max, latency:percentile(50), latency:percentile(90),
    latency:percentile(99)))
end
