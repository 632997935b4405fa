"""What an operator sees: metrics added up across workers, JSON log lines without secrets, health."""

import json
import logging
import re
from concurrent.futures import ThreadPoolExecutor

import requests

from harness.database import migrated_sqlite
from harness.servers import GunicornServer, access_entries
from opitios.logs import json_formatter, RequestIdFilter


def samples(text: str, name: str) -> dict[str, float]:
    """``{labels: value}`` of one metric in a Prometheus text exposition."""
    found = {}
    for line in text.splitlines():
        match = re.fullmatch(rf"{name}(\{{.*\}})? ([0-9.e+-]+)", line)
        if match:
            found[match.group(1) or ""] = float(match.group(2))
    return found


def test_metrics_add_up_across_two_gunicorn_workers(sandbox, tmp_path):
    env = {**sandbox.gateway_env(), "DATABASE_URL": migrated_sqlite(tmp_path)}
    with GunicornServer("wsgi:app", workers=2, env=env) as server:
        start = server.log_size()
        with ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(lambda _: requests.get(server.url + "/api/v1/stocks/AAPL/quote", timeout=30), range(60)))
            list(pool.map(lambda _: requests.get(server.url + "/nope", timeout=30), range(20)))
        pids = {entry.pid for entry in access_entries(server.log_since(start)) if entry.status in (200, 404)}
        text = requests.get(server.url + "/metrics", timeout=10).text
    assert len(pids) == 2  # both workers took traffic
    quotes = samples(text, "opitios_http_request_duration_seconds_count")
    assert sum(v for labels, v in quotes.items() if 'url_rule="/api/v1/stocks/<path:symbol>/quote"' in labels) == 60
    totals = samples(text, "opitios_http_request_total")
    assert totals['{method="GET",status="200"}'] >= 60 and totals['{method="GET",status="404"}'] == 20
    cache = samples(text, "opitios_cache_requests_total")
    assert sum(cache.values()) == 60
    assert cache.get('{data_class="stock_quote",result="miss"}', 0) >= 1
    upstream = samples(text, "opitios_upstream_requests_total")
    assert upstream.get('{operation="stock_quote",outcome="ok"}', 0) >= 1
    assert samples(text, "opitios_build_info") == {'{mode="paper",provider="alpaca",version="0.1.0"}': 1.0}
    assert "symbol=" not in text and "AAPL" not in text  # no unbounded labels


def test_the_access_log_is_one_json_object_per_line_without_secrets(make_app, api_key, sandbox, caplog):
    caplog.set_level(logging.INFO, logger="opitios.access")
    client = make_app().test_client()
    client.get("/api/v1/stocks/AAPL/quote", headers={"X-Request-ID": "log-1"})
    client.get("/api/v1/stocks/AAPL/quote", headers={"X-Request-ID": "log-2", "Authorization": "Bearer " + api_key})
    records = [record for record in caplog.records if record.name == "opitios.access"]
    assert len(records) == 2
    formatter = json_formatter()
    lines = []
    for record in records:
        RequestIdFilter().filter(record)
        lines.append(json.loads(formatter.format(record)))
    first, second = lines
    assert {"timestamp", "level", "logger", "message", "request_id", "method", "endpoint", "status", "duration_ms",
            "cache", "upstream_calls", "client"} <= set(first)
    assert (first["method"], first["status"], first["endpoint"]) == ("GET", 200, "/api/v1/stocks/<path:symbol>/quote")
    assert first["request_id"] == "log-1" and first["cache"] == "MISS" and first["upstream_calls"] >= 1
    assert second["cache"] == "HIT" and second["upstream_calls"] == 0
    assert first["client"] == api_key.split("_")[1]
    rendered = json.dumps(lines)
    assert api_key not in rendered and sandbox.secret not in rendered


def test_health_is_cheap_and_says_what_it_serves(make_app, sandbox):
    client = make_app().test_client()
    calls = sandbox.count()
    data = client.get("/api/v1/health").get_json()["data"]
    assert sandbox.count() == calls  # no upstream call
    assert data["version"] == "0.1.0" and data["provider"] == "alpaca" and data["mode"] == "paper"
    assert data["upstream"]["data_url"] == sandbox.url and data["uptime_seconds"] >= 0
    assert data["upstream"]["kind"] == "alpaca-compatible (URL override)"
    demo = make_app(OPITIOS_DEMO="true").test_client().get("/api/v1/health").get_json()["data"]
    assert demo["upstream"]["kind"].startswith("sandbox")


def test_readiness_reports_each_part(make_app):
    data = make_app().test_client().get("/api/v1/health/ready").get_json()["data"]
    assert data["status"] == "ready"
    assert data["checks"] == {"upstream_credentials": "ok", "database": "ok"}
    assert data["cache"] == "local" and data["circuit"] == "closed"
    assert set(data["configuration"]) >= {"version", "applied_rows", "rejected", "last_refresh"}
