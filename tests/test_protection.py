"""Upstream protection: stale-if-error, the circuit breaker, the request budget, and a Redis outage."""

import logging
import threading
import time

import pytest

from harness.tcp_proxy import TcpProxy
from opitios import extensions
from opitios.upstream.budget import BudgetSpent
from tests.waiting import eventually

SNAPSHOTS = "/v2/stocks/snapshots"


@pytest.fixture(params=["in-process", "redis"])
def shared(request):
    """Overrides that put the app in one cache mode or the other."""
    return {"REDIS_URL": request.getfixturevalue("redis_url")} if request.param == "redis" else {}


# -- stale-if-error ---------------------------------------------------------------------------------


def test_stale_is_served_within_the_window_and_refused_after(make_app, sandbox, rows, shared):
    # TTL 0: every entry is past its TTL at once, so only the stale window (5 s: room for a busy machine
    # between the fetch and the failing retries) keeps it usable.
    rows.put("cache_ttl", {"stock_quote_open": 0, "stock_quote_closed": 0})
    rows.put("limits", {"stale_if_error_seconds": 5})
    client = make_app(**shared).test_client()
    fresh = client.get("/api/v1/stocks/AAPL/quote")
    fetched = time.time()
    assert fresh.headers["X-Cache-Status"] == "MISS"
    sandbox.switches(error_status=500, path_prefix=SNAPSHOTS)
    stale = client.get("/api/v1/stocks/AAPL/quote")
    assert stale.status_code == 200
    assert stale.headers["X-Cache-Status"] == "STALE" and stale.get_json()["metadata"]["cache"] == "stale"
    assert stale.headers["Cache-Control"] == "max-age=0"
    assert stale.get_json()["data"] == fresh.get_json()["data"]
    metadata = stale.get_json()["metadata"]
    assert metadata["data_timestamp"] == fresh.get_json()["metadata"]["data_timestamp"]  # its true age
    assert metadata["data_freshness_seconds"] >= fresh.get_json()["metadata"]["data_freshness_seconds"]
    time.sleep(max(0.0, fetched + 5.1 - time.time()))  # the window is over
    refused = client.get("/api/v1/stocks/AAPL/quote")
    assert refused.status_code == 503 and refused.headers["X-Error-Code"] == "UPSTREAM_SERVICE_ERROR"


def test_stale_stands_in_for_a_timeout_too(make_app, sandbox, rows):
    rows.put("cache_ttl", {"stock_quote_open": 0, "stock_quote_closed": 0})
    client = make_app(OPITIOS_UPSTREAM_TIMEOUT="0.3").test_client()
    client.get("/api/v1/stocks/AAPL/quote")
    sandbox.switches(latency_ms=1000, path_prefix=SNAPSHOTS)
    assert client.get("/api/v1/stocks/AAPL/quote").headers["X-Cache-Status"] == "STALE"


def test_a_batch_with_a_key_that_has_no_stale_answer_is_the_error(make_app, sandbox, rows):
    rows.put("cache_ttl", {"stock_quote_open": 0, "stock_quote_closed": 0})
    client = make_app().test_client()
    client.get("/api/v1/stocks/AAPL/quote")
    sandbox.switches(error_status=500, path_prefix=SNAPSHOTS)
    response = client.post("/api/v1/stocks/quotes/batch", json={"symbols": ["AAPL", "MSFT"]})
    assert response.status_code == 503 and "data" not in response.get_json()


# -- the circuit breaker ------------------------------------------------------------------------------


def test_the_circuit_opens_after_five_failures_and_calls_nothing_while_open(make_app, sandbox, rows, shared):
    rows.put("upstream", {"circuit_open_seconds": 1})
    client = make_app(**shared).test_client()
    sandbox.switches(error_status=500, path_prefix=SNAPSHOTS)
    for symbol in ("AAPL", "MSFT", "SPY", "QQQ", "IWM"):
        assert client.get(f"/api/v1/stocks/{symbol}/quote").status_code == 503
    calls = sandbox.count(SNAPSHOTS)
    assert calls == 5 * 3  # each failed request made its three attempts
    response = client.get("/api/v1/stocks/AMD/quote")
    assert response.status_code == 503 and response.headers["X-Error-Code"] == "UPSTREAM_SERVICE_ERROR"
    assert "circuit open" in response.get_json()["error"]["message"]
    assert 1 <= int(response.headers["Retry-After"]) <= 1
    assert sandbox.count(SNAPSHOTS) == calls  # no upstream call while open
    assert client.get("/api/v1/health/ready").get_json()["data"]["circuit"] == "open"
    # After the open period one probe goes through; the upstream is well again, so it closes.
    sandbox.switches(error_status=None)
    time.sleep(1.1)
    assert client.get("/api/v1/stocks/AMD/quote").status_code == 200
    assert client.get("/api/v1/health/ready").get_json()["data"]["circuit"] == "closed"


class SteppedClock:
    """Wall-clock seconds that move only when the test says so."""

    def __init__(self):
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def test_a_half_open_circuit_lets_exactly_one_probe_through_across_instances(make_app, sandbox, rows, redis_url):
    rows.put("upstream", {"circuit_open_seconds": 60})
    # Two instances, one Redis; the probe is to fail at the upstream timeout, so these set a short one.
    instances = [make_app(REDIS_URL=redis_url, OPITIOS_UPSTREAM_TIMEOUT="2") for _ in range(2)]
    clock = SteppedClock()
    for app in instances:
        extensions.of(app).protection.gate.circuit.clock = clock
    sandbox.switches(error_status=500, path_prefix=SNAPSHOTS)
    for symbol in ("AAPL", "MSFT", "SPY", "QQQ", "IWM"):
        assert instances[0].test_client().get(f"/api/v1/stocks/{symbol}/quote").status_code == 503
    clock.now += 61  # past the open period
    assert {app.test_client().get("/api/v1/health/ready").get_json()["data"]["circuit"] for app in instances} == {"half-open"}
    # The upstream now answers only after the upstream timeout (2 s), so the probe fails slowly and
    # every other request arrives while it is in flight or after it re-opened the circuit.
    sandbox.switches(error_status=None, latency_ms=10_000)
    calls = sandbox.count(SNAPSHOTS)
    answers = []
    start = threading.Barrier(20)

    def ask(number):
        client = instances[number % 2].test_client()
        start.wait()
        answers.append(client.get(f"/api/v1/stocks/S{number}/quote"))

    threads = [threading.Thread(target=ask, args=(number,)) for number in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sandbox.count(SNAPSHOTS) == calls + 1  # exactly one probe reached the upstream
    codes = sorted(answer.headers["X-Error-Code"] for answer in answers)
    assert codes == ["UPSTREAM_SERVICE_ERROR"] * 19 + ["UPSTREAM_TIMEOUT"]
    refused = [answer for answer in answers if answer.status_code == 503]
    assert all("circuit open" in answer.get_json()["error"]["message"] for answer in refused)
    assert all(int(answer.headers["Retry-After"]) >= 1 for answer in refused)
    assert instances[1].test_client().get("/api/v1/health/ready").get_json()["data"]["circuit"] == "open"


def test_a_probe_refused_by_the_budget_leaves_the_circuit_half_open(make_app, sandbox, rows):
    rows.put("upstream", {"circuit_failures": 1, "circuit_open_seconds": 60})
    app = make_app()
    client = app.test_client()
    circuit = extensions.of(app).protection.gate.circuit
    clock = SteppedClock()
    circuit.clock = clock
    sandbox.switches(error_status=504, path_prefix=SNAPSHOTS)
    assert client.get("/api/v1/stocks/AAPL/quote").status_code == 504
    clock.now += 61

    def spent(probing):
        raise BudgetSpent("opitios' request budget for the upstream is spent for now", retry_after=1)

    with pytest.raises(BudgetSpent):
        circuit.call(spent)  # the probe's turn, but the upstream is not asked
    assert client.get("/api/v1/health/ready").get_json()["data"]["circuit"] == "half-open"
    sandbox.switches(error_status=None)
    assert client.get("/api/v1/stocks/MSFT/quote").status_code == 200  # the real probe
    assert client.get("/api/v1/health/ready").get_json()["data"]["circuit"] == "closed"


def test_errors_that_are_not_outages_leave_the_circuit_closed(make_app, sandbox):
    client = make_app().test_client()
    sandbox.switches(error_status=403, path_prefix=SNAPSHOTS)
    for _ in range(6):
        assert client.get("/api/v1/stocks/AAPL/quote").headers["X-Error-Code"] == "UPSTREAM_AUTHENTICATION_FAILED"
    assert sandbox.count(SNAPSHOTS) == 6


# -- the request budget ---------------------------------------------------------------------------------


def test_a_spent_budget_is_429_without_an_upstream_call(make_app, sandbox, rows, shared):
    rows.put("upstream", {"requests_per_minute": 8})  # a burst of 2, then 6 over the minute
    client = make_app(**shared).test_client()
    statuses = [client.get(f"/api/v1/stocks/{s}/quote").status_code for s in ("AAPL", "MSFT", "SPY", "QQQ", "IWM")]
    assert statuses.count(429) >= 2
    assert sandbox.count() <= 3  # the burst (2), and at most one token refilled meanwhile
    response = client.get("/api/v1/stocks/AMD/quote")
    assert response.status_code == 429 and response.headers["X-Error-Code"] == "UPSTREAM_RATE_LIMITED"
    assert int(response.headers["Retry-After"]) >= 1
    assert response.get_json()["error"]["type"] == "upstream_service_error"


def test_a_spent_budget_serves_stale_when_it_can(make_app, sandbox, rows):
    rows.put("upstream", {"requests_per_minute": 8})
    rows.put("cache_ttl", {"stock_quote_open": 0, "stock_quote_closed": 0})
    client = make_app().test_client()
    assert client.get("/api/v1/stocks/AAPL/quote").status_code == 200  # spends the burst (quote + clock)
    response = client.get("/api/v1/stocks/AAPL/quote")
    assert response.status_code == 200 and response.headers["X-Cache-Status"] == "STALE"


def test_an_upstream_429_empties_the_budget_until_its_reset(make_app, sandbox, shared):
    client = make_app(**shared).test_client()
    sandbox.switches(error_status=429, error_count=1, path_prefix=SNAPSHOTS)
    first = client.get("/api/v1/stocks/AAPL/quote")
    assert first.status_code == 429
    calls = sandbox.count()
    second = client.get("/api/v1/stocks/MSFT/quote")  # the upstream would answer now, but its window has not reset
    assert second.status_code == 429 and sandbox.count() == calls
    assert 1 <= int(second.headers["Retry-After"]) <= 61


# -- a Redis outage ----------------------------------------------------------------------------------


def test_a_redis_outage_degrades_to_local_and_recovers(make_app, sandbox, redis_url, caplog):
    proxy = TcpProxy(6379).start()
    try:
        client = make_app(REDIS_URL=redis_url.replace(":6379/", f":{proxy.port}/")).test_client()
        assert client.get("/api/v1/stocks/AAPL/quote").status_code == 200
        assert client.get("/api/v1/health/ready").get_json()["data"]["cache"] == "ok"

        caplog.set_level(logging.WARNING, logger="opitios.shared_redis")
        proxy.stop()
        for symbol in ("AAPL", "MSFT", "MSFT"):
            assert client.get(f"/api/v1/stocks/{symbol}/quote").status_code == 200
        ready = client.get("/api/v1/health/ready")
        assert ready.status_code == 200 and ready.get_json()["data"]["cache"] == "degraded"
        assert any("redis unavailable" in record.getMessage() for record in caplog.records)
        assert client.get("/api/v1/stocks/MSFT/quote").headers["X-Cache-Status"] == "HIT"  # the local cache

        proxy.start()
        eventually(lambda: client.get("/api/v1/stocks/QQQ/quote").status_code == 200
                   and client.get("/api/v1/health/ready").get_json()["data"]["cache"] == "ok")
        assert any("redis is back" in record.getMessage() for record in caplog.records)
    finally:
        proxy.stop()
