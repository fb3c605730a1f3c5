-- wrk script for make bench: optional pacing and a JSON summary on the last line of stdout.
--   wrk ... -s report.lua -- [DELAY_MS] [METHOD] [BODY]
-- DELAY_MS: each connection waits this long before each request (a paced, bounded rate:
-- connections x 1000 / DELAY_MS requests per second at most); 0 or absent: as fast as answers come.
local delay_ms = 0

function init(args)
  delay_ms = tonumber(args[1] or "0") or 0
  if args[2] then
    wrk.method = args[2]
  end
  if args[3] then
    wrk.body = args[3]
    wrk.headers["Content-Type"] = "application/json"
  end
end

function delay()
  return delay_ms
end

function done(summary, latency, requests)
  local e = summary.errors
  local function ms(q) return latency:percentile(q) / 1000.0 end
  io.write(string.format(
    '{"requests": %d, "seconds": %.3f, "rps": %.1f, "non_2xx": %d, "connect_errors": %d, "read_errors": %d, ' ..
    '"write_errors": %d, "timeouts": %d, "p50_ms": %.3f, "p95_ms": %.3f, "p99_ms": %.3f, "max_ms": %.3f}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6), e.status, e.connect,
    e.read, e.write, e.timeout, ms(50), ms(95), ms(99), latency.max / 1000.0))
end
