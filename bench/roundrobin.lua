-- GET each path in turn. Written by bench/run.py at run time from the sandbox's catalog.
local paths = {
  "/api/v1/stocks/AAPL/quote",
  "/api/v1/stocks/AMD/quote",
  "/api/v1/stocks/AMZN/quote",
  "/api/v1/stocks/BA/quote",
  "/api/v1/stocks/BAC/quote",
  "/api/v1/stocks/BRK.B/quote",
  "/api/v1/stocks/CRM/quote",
  "/api/v1/stocks/CSCO/quote",
  "/api/v1/stocks/DIS/quote",
  "/api/v1/stocks/GOOGL/quote",
  "/api/v1/stocks/INTC/quote",
  "/api/v1/stocks/IWM/quote",
  "/api/v1/stocks/JPM/quote",
  "/api/v1/stocks/KO/quote",
  "/api/v1/stocks/META/quote",
  "/api/v1/stocks/MSFT/quote",
  "/api/v1/stocks/NFLX/quote",
  "/api/v1/stocks/NOTRD/quote",
  "/api/v1/stocks/NVDA/quote",
  "/api/v1/stocks/ORCL/quote",
  "/api/v1/stocks/PEP/quote",
  "/api/v1/stocks/QQQ/quote",
  "/api/v1/stocks/SPY/quote",
  "/api/v1/stocks/TSLA/quote",
  "/api/v1/stocks/V/quote",
  "/api/v1/stocks/WMT/quote",
  "/api/v1/stocks/XOM/quote",
  "/api/v1/stocks/XYZ/quote"
}
local requests = {}
next_index = 1  -- a global, so setup() can give each thread its own start

init = function(args)
  -- wrk.format here, once per path, so a request costs a table lookup (headers from -H included).
  for i, path in ipairs(paths) do requests[i] = wrk.format("GET", path) end
end

setup = function(thread)
  -- Threads start at different places in the list, so they do not ask for the same symbol at once.
  thread:set("next_index", (next_index * 7) % #paths + 1)
  next_index = next_index + 1
end

request = function()
  local found = requests[next_index]
  next_index = next_index % #requests + 1
  return found
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"status_errors":%d,"connect_errors":%d,"read_errors":%d,' ..
    '"write_errors":%d,"timeout_errors":%d,"p50_us":%d,"p95_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
