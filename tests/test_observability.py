"""What an operator sees: metrics added up across workers, JSON log lines without secrets, health."""

import json
import re
from concurrent.futures import ThreadPoolExecutor

import requests

from harness.database import migrated_sqlite
from harness.servers import GunicornServer, access_entries
from opitios.access.keys import create_key
from opitios.db import make_engine
from tests.waiting import eventually


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
            brewed = list(pool.map(lambda _: requests.request("BREW", server.url + "/api/v1/health", timeout=30), range(5)))
        pids = {entry.pid for entry in access_entries(server.log_since(start)) if entry.status in (200, 404)}
        text = requests.get(server.url + "/metrics", timeout=10).text
    assert len(pids) == 2  # both workers took traffic
    quotes = samples(text, "opitios_http_request_duration_seconds_count")
    assert sum(v for labels, v in quotes.items() if 'url_rule="/api/v1/stocks/<path:symbol>/quote"' in labels) == 60
    totals = samples(text, "opitios_http_request_total")
    assert totals['{method="GET",status="200"}'] >= 60 and totals['{method="GET",status="404"}'] == 20
    # A method no route serves is counted, under "other": a client cannot add series by making methods up.
    assert {answer.status_code for answer in brewed} == {405} and totals['{method="other",status="405"}'] == 5
    assert "BREW" not in text
    cache = samples(text, "opitios_cache_requests_total")
    assert sum(cache.values()) == 60
    assert cache.get('{data_class="stock_quote",result="miss"}', 0) >= 1
    upstream = samples(text, "opitios_upstream_requests_total")
    assert upstream.get('{operation="stock_quote",outcome="ok"}', 0) >= 1
    assert samples(text, "opitios_build_info") == {'{mode="paper",provider="alpaca",version="0.1.0"}': 1.0}
    assert "symbol=" not in text and "AAPL" not in text  # no unbounded labels


def access_lines(text: str) -> list[dict]:
    """Every access line in gunicorn's output, whoever wrote it."""
    return [json.loads(line) for line in text.splitlines() if re.search(r'"logger": "[a-z]+\.access"', line)]


def test_each_request_leaves_exactly_one_access_line_with_every_field(sandbox, tmp_path):
    database = migrated_sqlite(tmp_path)
    engine = make_engine(database)
    key, prefix = create_key(engine, "logged desk", ["read"])
    engine.dispose()
    env = {**sandbox.gateway_env(), "DATABASE_URL": database, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics")}
    quote = "/api/v1/stocks/AAPL/quote"
    with GunicornServer("wsgi:app", workers=1, env=env) as server:
        start = server.log_size()
        sent = [
            requests.get(server.url + quote, headers={"X-Request-ID": "log-1", "X-API-Key": key,
                                                     "User-Agent": "desk/1"}, timeout=30),
            requests.get(server.url + quote + "?note=query-text", headers={"X-Request-ID": "log-2"}, timeout=30),
            requests.get(server.url + "/nope", headers={"X-Request-ID": "log-3"}, timeout=30),
        ]
        # A last request on the same (only) worker: once its line is there, the lines of those before it are too.
        requests.get(server.url + "/api/v1/health", headers={"X-Request-ID": "log-end"}, timeout=30)
        eventually(lambda: "log-end" in {line["request_id"] for line in access_lines(server.log_since(start))})
        log = server.log_since(start)
        # Ours only: the readiness probes of GunicornServer.start() may still be writing theirs.
        lines = [line for line in access_lines(log) if line["request_id"] in ("log-1", "log-2", "log-3")]
        pids = server.worker_pids()
    assert [answer.status_code for answer in sent] == [200, 200, 404]
    assert [line["request_id"] for line in lines] == ["log-1", "log-2", "log-3"]  # one line each, no other
    first, second, missing = lines
    assert set(first) == {"timestamp", "level", "logger", "message", "request_id", "method", "endpoint", "path",
                          "status", "duration_ms", "cache", "upstream_calls", "client", "remote", "bytes",
                          "user_agent", "pid"}
    assert (first["method"], first["path"], first["endpoint"]) == ("GET", quote, "/api/v1/stocks/<path:symbol>/quote")
    assert (first["status"], first["cache"], first["client"], first["user_agent"]) == (200, "MISS", prefix, "desk/1")
    assert first["upstream_calls"] >= 1 and first["duration_ms"] > 0 and first["pid"] in pids
    assert first["bytes"] == len(sent[0].content) and first["remote"] == "127.0.0.1"  # the body, as gunicorn counts it
    assert (second["cache"], second["upstream_calls"], second["client"], second["path"]) == ("HIT", 0, None, quote)
    assert (missing["status"], missing["endpoint"], missing["upstream_calls"]) == (404, None, 0)
    assert "query-text" not in log and key not in log and sandbox.secret not in log


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
