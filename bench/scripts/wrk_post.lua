-- wrk script: POST one chat-completions body, report one JSON line when done.
--
-- Environment: BENCH_BODY (the JSON body), BENCH_AUTH ("api-key: K" or
-- "authorization: Bearer K"), BENCH_OUT (file the result line is appended to),
-- BENCH_LABEL (the scenario name written into the line).

wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY")
wrk.headers["Content-Type"] = "application/json"
local auth = os.getenv("BENCH_AUTH") or ""
local name, value = auth:match("^([^:]+):%s*(.*)$")
if name then
  wrk.headers[name] = value
end

function done(summary, latency, requests)
  local e = summary.errors
  local errors = e.connect + e.read + e.write + e.status + e.timeout
  local secs = summary.duration / 1e6
  local line = string.format(
    '{"label":"%s","requests":%d,"seconds":%.3f,"rps":%.1f,' ..
    '"p50_ms":%.4f,"p90_ms":%.4f,"p99_ms":%.4f,"p999_ms":%.4f,"max_ms":%.4f,' ..
    '"errors":%d,"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d}',
    os.getenv("BENCH_LABEL") or "-", summary.requests, secs, summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency:percentile(99.9) / 1000, latency.max / 1000,
    errors, e.connect, e.read, e.write, e.status, e.timeout)
  local out = os.getenv("BENCH_OUT")
  if out then
    local f = io.open(out, "a")
    f:write(line .. "\n")
    f:close()
  end
  io.write(line .. "\n")
end
