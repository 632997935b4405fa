-- POST one JSON body. Written by bench/run.py at run time from the sandbox's catalog.
wrk.method = "POST"
wrk.body = "{\"symbols\":[\"AAPL\",\"AMD\",\"AMZN\",\"BA\",\"BAC\",\"BRK.B\",\"CRM\",\"CSCO\",\"DIS\",\"GOOGL\",\"INTC\",\"IWM\",\"JPM\",\"KO\",\"META\",\"MSFT\",\"NFLX\",\"NOTRD\",\"NVDA\",\"ORCL\"]}"
wrk.headers["Content-Type"] = "application/json"

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"status_errors":%d,"connect_errors":%d,"read_errors":%d,' ..
    '"write_errors":%d,"timeout_errors":%d,"p50_us":%d,"p95_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
