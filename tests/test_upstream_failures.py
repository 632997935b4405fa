"""Upstream failures map to the contract's codes, spend one upstream call, and leak nothing."""

import pytest

SNAPSHOTS = "/v2/stocks/snapshots"


@pytest.mark.parametrize(
    "status, http, code, calls",
    [
        (401, 503, "UPSTREAM_AUTHENTICATION_FAILED", 1),
        (403, 503, "UPSTREAM_AUTHENTICATION_FAILED", 1),
        (429, 429, "UPSTREAM_RATE_LIMITED", 1),
        (500, 503, "UPSTREAM_SERVICE_ERROR", 3),
        (502, 503, "UPSTREAM_SERVICE_ERROR", 3),
        (503, 503, "UPSTREAM_SERVICE_ERROR", 3),
        (504, 504, "UPSTREAM_TIMEOUT", 1),
    ],
)
def test_upstream_statuses_map_to_contract_codes(client, sandbox, status, http, code, calls):
    sandbox.switches(error_status=status, path_prefix="/v2/stocks")
    response = client.get("/api/v1/stocks/AAPL/quote")
    assert response.status_code == http
    assert response.headers["X-Error-Code"] == code
    body = response.get_json()
    assert body["error"]["type"] == "upstream_service_error"
    assert body["error"]["details"]["upstream_status"] == status
    if http in (429, 503):
        assert int(response.headers["Retry-After"]) >= 1
    # alpaca-py's own retries (three more calls on 429 and 504, 3 s apart) are off; opitios retries
    # only quick refusals (5xx), at most three attempts in all.
    assert sandbox.count(SNAPSHOTS) == calls


@pytest.mark.parametrize("status", [400, 422])
def test_an_upstream_refusal_of_our_parameters_is_400_with_its_reason(client, sandbox, status):
    sandbox.switches(error_status=status, path_prefix="/v2/stocks")
    response = client.get("/api/v1/stocks/AAPL/bars")
    assert response.status_code == 400
    assert response.headers["X-Error-Code"] == "INVALID_PARAMETER"
    details = response.get_json()["error"]["details"]
    assert details["upstream_status"] == status and details["upstream_message"]


def test_upstream_429_retry_after_comes_from_its_rate_window(client, sandbox):
    sandbox.switches(rate_limit_per_minute=1)
    assert client.get("/api/v1/stocks/AAPL/quote").status_code == 200  # spends the whole budget
    response = client.get("/api/v1/stocks/MSFT/quote")
    assert response.status_code == 429
    assert response.headers["X-Error-Code"] == "UPSTREAM_RATE_LIMITED"
    assert 1 <= int(response.headers["Retry-After"]) <= 61


def test_a_slow_upstream_is_504_upstream_timeout(make_app, sandbox):
    client = make_app(OPITIOS_UPSTREAM_TIMEOUT="0.3").test_client()
    # The sandbox would answer 200 after 1.5 s; a 504 shows opitios gave up at its own timeout.
    sandbox.switches(latency_ms=1500, path_prefix="/v2/stocks")
    response = client.get("/api/v1/stocks/AAPL/quote")
    assert response.status_code == 504
    assert response.headers["X-Error-Code"] == "UPSTREAM_TIMEOUT"


def test_an_unreadable_upstream_answer_is_502(client, sandbox):
    sandbox.switches(invalid_json=True, path_prefix="/v2/stocks")
    response = client.get("/api/v1/stocks/AAPL/quote")
    assert response.status_code == 502
    assert response.headers["X-Error-Code"] == "UPSTREAM_INVALID_RESPONSE"


def test_an_unreachable_upstream_is_503_service_error(make_app):
    client = make_app(ALPACA_DATA_URL="http://127.0.0.1:9", ALPACA_TRADING_URL="http://127.0.0.1:9").test_client()
    response = client.get("/api/v1/stocks/AAPL/quote")
    assert response.status_code == 503
    assert response.headers["X-Error-Code"] == "UPSTREAM_SERVICE_ERROR"


def test_wrong_credentials_are_503_and_never_echoed(make_app, sandbox):
    client = make_app(ALPACA_API_KEY="wrong-key-id", ALPACA_SECRET_KEY="wrong-secret-value").test_client()
    for path in ("/api/v1/stocks/AAPL/quote", "/api/v1/stocks/AAPL/bars", "/api/v1/options/AAPL/chain"):
        response = client.get(path)
        assert response.status_code == 503
        assert response.headers["X-Error-Code"] == "UPSTREAM_AUTHENTICATION_FAILED"
        text = response.get_data(as_text=True)
        assert "wrong-secret-value" not in text and "wrong-key-id" not in text


def test_a_passing_5xx_is_retried_away(client, sandbox):
    sandbox.switches(error_status=502, error_count=2, path_prefix="/v2/stocks")
    assert client.get("/api/v1/stocks/AAPL/quote").status_code == 200
    assert sandbox.count(SNAPSHOTS) == 3


def test_the_service_recovers_when_the_upstream_does(client, sandbox):
    sandbox.switches(error_status=500, error_count=3, path_prefix="/v2/stocks")
    assert client.get("/api/v1/stocks/AAPL/quote").status_code == 503
    assert client.get("/api/v1/stocks/AAPL/quote").status_code == 200


@pytest.mark.parametrize(
    "path",
    ["/api/v1/stocks/AAPL/bars", "/api/v1/options/AAPL/chain", "/api/v1/stocks/quotes?symbols=AAPL,MSFT"],
)
def test_every_market_route_maps_upstream_failures(client, sandbox, path):
    sandbox.switches(error_status=503)
    response = client.get(path)
    assert response.status_code == 503
    assert response.headers["X-Error-Code"] == "UPSTREAM_SERVICE_ERROR"
    assert "data" not in response.get_json()
