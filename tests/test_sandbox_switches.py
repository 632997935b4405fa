"""The sandbox's control API: switches, counters, rate limiting and reset behave as documented."""
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
import requests
from alpaca.common.exceptions import APIError
from alpaca.data.historical.option import OptionHistoricalDataClient
from alpaca.data.historical.stock import StockHistoricalDataClient
from alpaca.data.requests import OptionChainRequest, StockLatestQuoteRequest
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import AccountStatus

from tests.waiting import eventually

UTC = timezone.utc
NOW = "2024-06-05T18:00:00.123Z"  # a Wednesday, 14:00:00.123 in New York (EDT)
QUOTES = "/v2/stocks/quotes/latest"


def without_retries(client):
    client._retry = 0  # the SDK would otherwise sleep 3 s per retry on 429/504
    return client


def stock_client(server, secret=None):
    client = StockHistoricalDataClient(server.key, secret or server.secret, url_override=server.url)
    return without_retries(client)


def option_client(server):
    return without_retries(OptionHistoricalDataClient(server.key, server.secret, url_override=server.url))


def trading_client(server):
    return without_retries(TradingClient(server.key, server.secret, paper=True, url_override=server.url))


def latest_quote(server):
    return stock_client(server).get_stock_latest_quote(StockLatestQuoteRequest(symbol_or_symbols="AAPL"))


def test_defaults_and_unknown_switches(sandbox):
    switches = sandbox.switches()
    assert {k: v for k, v in switches.items() if k != "now"} == {
        "latency_ms": 0, "error_status": None, "error_count": None, "path_prefix": None,
        "invalid_json": False, "rate_limit_per_minute": 200, "market": "auto", "clock": "frozen"}
    for bad in ({"bogus": 1}, {"latency_ms": "slow"}, {"error_status": 200}, {"market": "maybe"},
                {"now": "not a time"}, {"invalid_json": "yes"}, {"path_prefix": "v2"}, {"clock": "running"}):
        response = requests.post(sandbox.url + "/_sandbox/switches", json=bad, timeout=5)
        assert response.status_code == 400 and "message" in response.json()
    assert requests.post(sandbox.url + "/_sandbox/switches", json={"bogus": 1}, timeout=5).json() == \
        {"message": "unknown switch: bogus"}
    assert sandbox.switches() == switches  # refused changes change nothing, even partly valid ones


def test_error_status_with_count_then_back_to_normal(sandbox):
    sandbox.switches(error_status=500, error_count=2)
    for _ in range(2):
        with pytest.raises(APIError) as error:
            latest_quote(sandbox)
        assert error.value.status_code == 500 and error.value.message == "internal server error"
    assert "AAPL" in latest_quote(sandbox)
    assert sandbox.switches()["error_status"] is None and sandbox.switches()["error_count"] is None
    assert [entry["status"] for entry in sandbox.calls()["log"]] == [500, 500, 200]


@pytest.mark.parametrize("status", [401, 403, 429, 500, 502, 503, 504])
def test_error_status_bodies_per_api(sandbox, status):
    sandbox.switches(error_status=status)
    data_status, headers, data_body = sandbox.get(QUOTES, symbols="AAPL")
    trading_status, _, trading_body = sandbox.get("/v2/clock")
    assert data_status == trading_status == status
    assert list(data_body) == ["message"] and data_body["message"]
    assert trading_body["code"] == status * 100_000 + 10_000 and trading_body["message"]
    if status == 429:
        assert headers["X-RateLimit-Remaining"] == "0"
    with pytest.raises(APIError) as error:  # until cleared
        trading_client(sandbox).get_account()
    assert error.value.status_code == status and error.value.code == trading_body["code"]
    sandbox.switches(error_status=None)
    assert trading_client(sandbox).get_account().status == AccountStatus.ACTIVE


def test_path_prefix_limits_faults(sandbox):
    sandbox.switches(error_status=503, path_prefix="/v2/stocks")
    with pytest.raises(APIError) as error:
        latest_quote(sandbox)
    assert error.value.status_code == 503
    assert option_client(sandbox).get_option_chain(OptionChainRequest(underlying_symbol="MSFT"))
    assert trading_client(sandbox).get_clock() is not None


def test_invalid_json(sandbox):
    sandbox.switches(invalid_json=True, error_count=1)
    response = requests.get(sandbox.url + QUOTES, params={"symbols": "AAPL"}, timeout=5,
                            headers={"APCA-API-KEY-ID": sandbox.key, "APCA-API-SECRET-KEY": sandbox.secret})
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("application/json")
    with pytest.raises(ValueError):
        response.json()
    assert "AAPL" in latest_quote(sandbox)  # the count is spent
    sandbox.switches(invalid_json=True)
    with pytest.raises(requests.exceptions.JSONDecodeError):
        latest_quote(sandbox)


def test_latency_delays_matching_paths(sandbox):
    sandbox.switches(latency_ms=400, path_prefix="/v2/stocks")
    started = time.monotonic()
    assert sandbox.get(QUOTES, symbols="AAPL")[0] == 200
    assert time.monotonic() - started >= 0.4
    with pytest.raises(requests.exceptions.Timeout):
        requests.get(sandbox.url + QUOTES, params={"symbols": "AAPL"}, timeout=0.1,
                     headers={"APCA-API-KEY-ID": sandbox.key, "APCA-API-SECRET-KEY": sandbox.secret})
    # Other paths are not delayed: with a minute's latency on stocks, the clock still answers at once.
    sandbox.switches(latency_ms=60_000, path_prefix="/v2/stocks")
    assert sandbox.get("/v2/clock")[0] == 200


def test_rate_limit_window(sandbox):
    for _ in range(2):  # a wall-clock minute may roll over mid-test: then try once more
        sandbox.reset()
        sandbox.switches(rate_limit_per_minute=2)
        answers = [sandbox.get(QUOTES, symbols="AAPL") for _ in range(3)] + [sandbox.get("/v2/clock")]
        if len({headers["X-RateLimit-Reset"] for _, headers, _ in answers}) == 1:
            break
    statuses = [status for status, _, _ in answers]
    remaining = [headers["X-RateLimit-Remaining"] for _, headers, _ in answers]
    assert statuses == [200, 200, 429, 429] and remaining == ["1", "0", "0", "0"]
    assert answers[2][2] == {"message": "too many requests."}
    assert answers[3][2] == {"code": 42910000, "message": "rate limit exceeded"}
    assert all(headers["X-RateLimit-Limit"] == "2" for _, headers, _ in answers)
    reset = int(answers[0][1]["X-RateLimit-Reset"])
    assert reset % 60 == 0 and time.time() < reset <= time.time() + 60
    with pytest.raises(APIError) as error:
        latest_quote(sandbox)  # _retry = 0, so no 3 s back-off
    assert error.value.status_code == 429


def test_counters_and_log(sandbox):
    assert sandbox.count() == 0
    sandbox.get(QUOTES, symbols="AAPL,MSFT", feed="iex")
    sandbox.get(QUOTES, symbols="bad symbol")
    trading_client(sandbox).get_clock()
    with pytest.raises(APIError):
        stock_client(sandbox, secret="nope").get_stock_latest_quote(
            StockLatestQuoteRequest(symbol_or_symbols="KO"))
    sandbox.catalog()
    sandbox.switches()
    calls = sandbox.calls()
    assert calls["total"] == sandbox.count() == 4  # control requests are never counted
    assert calls["by_path"] == {QUOTES: 3, "/v2/clock": 1}
    assert sandbox.count(QUOTES) == 3 and sandbox.count("/v2/account") == 0
    arrivals = [entry.pop("at") for entry in calls["log"]]
    assert arrivals == sorted(arrivals) and all(isinstance(at, float) for at in arrivals)
    assert calls["log"] == [
        {"method": "GET", "path": QUOTES, "query": {"symbols": "AAPL,MSFT", "feed": "iex"}, "status": 200},
        {"method": "GET", "path": QUOTES, "query": {"symbols": "bad symbol"}, "status": 400},
        {"method": "GET", "path": "/v2/clock", "query": {}, "status": 200},
        {"method": "GET", "path": QUOTES, "query": {"symbols": "KO"}, "status": 401},
    ]


def test_clearing_the_calls_keeps_the_switches(sandbox):
    sandbox.switches(market="closed", latency_ms=1, rate_limit_per_minute=1)
    sandbox.get(QUOTES, symbols="AAPL")
    sandbox.clear_calls()
    assert sandbox.calls() == {"total": 0, "by_path": {}, "log": []}
    assert sandbox.switches()["market"] == "closed" and sandbox.switches()["latency_ms"] == 1
    assert sandbox.get(QUOTES, symbols="AAPL")[0] == 200  # the rate window starts again too


def test_market_switch_and_now(sandbox):
    sandbox.switches(now=NOW, market="closed")
    closed = trading_client(sandbox).get_clock()
    assert not closed.is_open
    assert closed.next_open == datetime(2024, 6, 6, 13, 30, tzinfo=UTC)
    assert closed.next_close == datetime(2024, 6, 6, 20, 0, tzinfo=UTC)
    sandbox.switches(now="2024-06-08T15:00:00Z", market="auto")  # a Saturday
    weekend = trading_client(sandbox).get_clock()
    assert not weekend.is_open and weekend.next_open == datetime(2024, 6, 10, 13, 30, tzinfo=UTC)
    sandbox.switches(market="open")
    forced = trading_client(sandbox).get_clock()
    assert forced.is_open and forced.timestamp < forced.next_close < forced.next_open
    assert forced.next_close == datetime(2024, 6, 8, 20, 0, tzinfo=UTC)
    sandbox.switches(now="2024-06-05T21:00:00Z")  # forced open after today's close: closes in an hour
    late = sandbox.get("/v2/clock")[2]
    assert late["is_open"] and late["next_close"] == "2024-06-05T18:00:00-04:00"


def test_reset_restores_everything(sandbox):
    start_now = sandbox.catalog()["now"]
    sandbox.switches(now=NOW, latency_ms=5, error_status=502, market="open", rate_limit_per_minute=7)
    sandbox.get(QUOTES, symbols="AAPL")
    assert sandbox.catalog()["now"] == "2024-06-05T18:00:00.123Z" != start_now
    sandbox.reset()
    assert sandbox.catalog()["now"] == start_now and sandbox.count() == 0
    assert sandbox.switches()["error_status"] is None and sandbox.switches()["latency_ms"] == 0
    status, headers, _ = sandbox.get(QUOTES, symbols="AAPL")
    assert status == 200 and headers["X-RateLimit-Remaining"] == "199"


def test_the_control_url_the_banner_shows_lists_the_endpoints(sandbox):
    response = requests.get(sandbox.url + "/_sandbox/", timeout=5)

    assert response.status_code == 200
    assert response.json()["endpoints"] == {
        "/_sandbox/health": ["GET"], "/_sandbox/catalog": ["GET"], "/_sandbox/calls": ["DELETE", "GET"],
        "/_sandbox/reset": ["POST"], "/_sandbox/stream": ["GET", "POST"], "/_sandbox/switches": ["GET", "POST"],
    }


def test_control_api_shapes(sandbox):
    assert requests.get(sandbox.url + "/_sandbox/health", timeout=5).json() == {"ok": True, "stream_url": sandbox.stream_url}
    assert sandbox.stream_url.startswith("ws://127.0.0.1:")
    catalog = sandbox.catalog()
    assert {"AAPL", "MSFT", "SPY", "BRK.B", "XYZ", "NOTRD", "NULLSNAP"} <= set(catalog["stocks"])
    assert len(catalog["stocks"]) >= 24
    assert catalog["special"] == {"no_bid": "XYZ", "no_trade": "NOTRD", "null_snapshot": "NULLSNAP"}
    assert (catalog["key"], catalog["secret"]) == (sandbox.key, sandbox.secret)
    assert requests.get(sandbox.url + "/_sandbox/nothing", timeout=5).status_code == 404
    assert requests.get(sandbox.url + "/_sandbox/reset", timeout=5).status_code == 405
    assert sandbox.count() == 0


def test_a_request_from_before_a_reset_spends_no_fault_of_the_next_test(sandbox):
    # A gateway that gave up on a slow answer leaves the sandbox still sleeping out its latency; when it
    # wakes, the faults set for the next test are not its to spend.
    sandbox.switches(latency_ms=3000, path_prefix="/v2/stocks")
    straggler = {}
    thread = threading.Thread(target=lambda: straggler.update(answer=sandbox.get(QUOTES, symbols="AAPL")))
    thread.start()
    eventually(lambda: sandbox.count(QUOTES) == 1)  # it has arrived, and sleeps
    sandbox.reset()
    sandbox.switches(error_status=500, error_count=1, path_prefix="/v2/stocks")
    thread.join()
    assert straggler["answer"][0] == 200
    assert sandbox.get(QUOTES, symbols="AAPL")[0] == 500  # the fault waited for its own request


def test_a_live_clock_follows_the_wall_clock(sandbox):
    sandbox.switches(clock="live")
    before = datetime.now(UTC)
    first = latest_quote(sandbox)["AAPL"].timestamp
    assert first >= before - timedelta(seconds=0.6)  # the latest quote is stamped 0.5 s (and < 1 ms) before now
    eventually(lambda: latest_quote(sandbox)["AAPL"].timestamp > first)
    sandbox.reset()
    assert sandbox.switches()["clock"] == "frozen"
