-- wrk script of `npm run bench`. With WRK_TOKENS naming a file of tokens (one a line), every
-- request carries the next token in turn: more tokens than the verified-token cache holds, so
-- every request misses it. Without it, wrk sends its own request (with any -H headers) unchanged.
-- Either way, done() prints one JSON line that bench/run.ts parses.
local file = os.getenv("WRK_TOKENS")

if file then
  local requests = {}
  local n = 0

  function init(_)
    for token in io.lines(file) do
      -- Built once here: formatting a request per call would make wrk the bottleneck.
      requests[#requests + 1] = wrk.format("GET", wrk.path, { ["Authorization"] = "Bearer " .. token })
    end
    n = math.random(#requests) - 1
  end

  function request()
    n = n % #requests + 1
    return requests[n]
  end
end

function done(summary, latency, _)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"durationUs":%d,"non2xx":%d,"errors":%d,"p50Us":%d,"p99Us":%d}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50.0), latency:percentile(99.0)))
end
