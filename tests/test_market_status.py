"""market_status comes from the upstream clock, fetched once per open/close boundary."""

import pytest

CLOCK = "/v2/clock"


@pytest.mark.parametrize("market", ["open", "closed"])
def test_market_status_follows_the_upstream_clock(make_app, sandbox, market):
    sandbox.switches(market=market)
    client = make_app().test_client()
    assert client.get("/api/v1/stocks/AAPL/quote").get_json()["metadata"]["market_status"] == market


def test_the_clock_is_not_fetched_per_request(client, sandbox):
    for path in ("/api/v1/stocks/AAPL/quote", "/api/v1/stocks/MSFT/quote", "/api/v1/stocks/AAPL/bars", "/api/v1/options/AAPL/chain"):
        assert client.get(path).status_code == 200
    assert sandbox.count(CLOCK) == 1


def test_an_unreadable_clock_gives_unknown_and_the_data_still_flows(client, sandbox):
    sandbox.switches(error_status=500, path_prefix=CLOCK)
    response = client.get("/api/v1/stocks/AAPL/quote")
    assert response.status_code == 200
    assert response.get_json()["metadata"]["market_status"] == "unknown"
    asked = sandbox.count(CLOCK)
    client.get("/api/v1/stocks/MSFT/quote")
    assert sandbox.count(CLOCK) == asked  # a failed clock is not asked again on every request
