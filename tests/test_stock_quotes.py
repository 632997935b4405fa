"""Stock quote routes: values exactly as the upstream sent them, with their provenance."""

from datetime import datetime

import pytest

SNAPSHOTS = "/v2/stocks/snapshots"
QUOTE_KEYS = [
    "symbol", "bid_price", "bid_size", "ask_price", "ask_size", "last_price", "last_size",
    "volume", "quote_timestamp", "trade_timestamp",
]


def raw_snapshot(sandbox, symbol):
    status, _, body = sandbox.get(SNAPSHOTS, symbols=symbol, feed="iex")
    assert status == 200
    return body[symbol]


def expected_quote(symbol, snapshot):
    quote, trade, daily = snapshot["latestQuote"], snapshot["latestTrade"], snapshot["dailyBar"]
    return {
        "symbol": symbol,
        "bid_price": quote["bp"], "bid_size": quote["bs"],
        "ask_price": quote["ap"], "ask_size": quote["as"],
        "last_price": trade["p"], "last_size": trade["s"],
        "volume": daily["v"],
        "quote_timestamp": quote["t"], "trade_timestamp": trade["t"],
    }


@pytest.mark.parametrize("symbol", ["AAPL", "BRK.B", "SPY"])
def test_get_quote_passes_the_upstream_values_through(client, sandbox, symbol):
    snapshot = raw_snapshot(sandbox, symbol)
    response = client.get(f"/api/v1/stocks/{symbol}/quote")
    assert response.status_code == 200
    body = response.get_json()
    assert list(body["data"]) == QUOTE_KEYS
    assert body["data"] == expected_quote(symbol, snapshot)


def test_post_quote_is_the_same_answer(client, sandbox):
    snapshot = raw_snapshot(sandbox, "MSFT")
    response = client.post("/api/v1/stocks/quote", json={"symbol": "msft"})
    assert response.status_code == 200
    assert response.get_json()["data"] == expected_quote("MSFT", snapshot)


def test_lower_case_symbols_are_asked_for_upper_cased(client, sandbox, upstream_queries):
    assert client.get("/api/v1/stocks/aapl/quote").get_json()["data"]["symbol"] == "AAPL"
    assert upstream_queries(SNAPSHOTS)[-1]["symbols"] == "AAPL"


def test_metadata_and_headers_say_where_the_numbers_came_from(client, sandbox, upstream_queries):
    snapshot = raw_snapshot(sandbox, "AAPL")
    before = datetime.now().astimezone()
    response = client.get("/api/v1/stocks/AAPL/quote")
    metadata = response.get_json()["metadata"]
    assert metadata["data_source"] == "alpaca_real_time"
    assert metadata["provider"] == "alpaca"
    assert metadata["feed"] == "iex"
    assert metadata["cache"] == "miss"
    assert metadata["market_status"] in ("open", "closed")
    assert metadata["data_timestamp"] == snapshot["latestQuote"]["t"]
    age = (before - datetime.fromisoformat(snapshot["latestQuote"]["t"])).total_seconds()
    assert age - 0.01 <= metadata["data_freshness_seconds"] <= age + 5
    assert metadata["request_id"] == response.headers["X-Request-ID"]
    assert response.headers["X-Cache-Status"] == "MISS"
    assert response.headers["X-Data-Source"] == "alpaca_real_time"
    assert float(response.headers["X-Data-Freshness"]) == metadata["data_freshness_seconds"]
    ttl = 5 if metadata["market_status"] == "open" else 300  # the default stock-quote TTLs
    max_age = int(response.headers["Cache-Control"].removeprefix("max-age="))
    assert ttl - 1 <= max_age <= ttl
    assert upstream_queries(SNAPSHOTS)[-1]["feed"] == "iex"


def test_the_configured_stock_feed_is_asked_for(make_app, sandbox, upstream_queries):
    client = make_app(ALPACA_STOCK_FEED="sip").test_client()
    response = client.get("/api/v1/stocks/AAPL/quote")
    assert response.get_json()["metadata"]["feed"] == "sip"
    assert upstream_queries(SNAPSHOTS)[-1]["feed"] == "sip"


def test_a_side_without_a_quote_is_null_never_zero(client, sandbox, catalog):
    symbol = catalog["special"]["no_bid"]
    snapshot = raw_snapshot(sandbox, symbol)
    assert snapshot["latestQuote"]["bp"] == 0 and snapshot["latestQuote"]["bs"] == 0
    data = client.get(f"/api/v1/stocks/{symbol}/quote").get_json()["data"]
    assert data["bid_price"] is None and data["bid_size"] is None
    assert data["ask_price"] == snapshot["latestQuote"]["ap"]
    assert "mid_price" not in data and "midpoint" not in data


def test_fields_the_upstream_omitted_are_null_and_nothing_is_derived(client, sandbox, catalog):
    symbol = catalog["special"]["no_trade"]
    snapshot = raw_snapshot(sandbox, symbol)
    assert "latestTrade" not in snapshot and "dailyBar" not in snapshot
    data = client.get(f"/api/v1/stocks/{symbol}/quote").get_json()["data"]
    # No last price taken from the quote, no volume invented.
    assert data["last_price"] is None and data["last_size"] is None
    assert data["trade_timestamp"] is None and data["volume"] is None
    assert data["bid_price"] == snapshot["latestQuote"]["bp"]
    assert list(data) == QUOTE_KEYS


@pytest.mark.parametrize("kind", ["unknown", "null_snapshot"])
def test_no_data_for_a_symbol_is_404_symbol_not_found(client, catalog, kind):
    symbol = "ZZZZ" if kind == "unknown" else catalog["special"]["null_snapshot"]
    response = client.get(f"/api/v1/stocks/{symbol}/quote")
    assert response.status_code == 404
    assert response.headers["X-Error-Code"] == "SYMBOL_NOT_FOUND"
    body = response.get_json()
    assert body["error"]["type"] == "data_unavailable"
    assert body["error"]["details"] == {"symbol": symbol}
    assert "data" not in body


@pytest.mark.parametrize("path", ["/api/v1/stocks/zz%24/quote", "/api/v1/stocks/TOOLONGSYMBOL/quote", "/api/v1/stocks/1AB/quote"])
def test_malformed_symbols_are_400_without_an_upstream_call(client, sandbox, path):
    response = client.get(path)
    assert response.status_code == 400
    assert response.headers["X-Error-Code"] == "INVALID_SYMBOL_FORMAT"
    assert sandbox.count(SNAPSHOTS) == 0


def test_post_quote_with_a_malformed_symbol_is_400(client, sandbox):
    response = client.post("/api/v1/stocks/quote", json={"symbol": 42})
    assert response.status_code == 400
    assert response.headers["X-Error-Code"] == "INVALID_SYMBOL_FORMAT"
    assert sandbox.count(SNAPSHOTS) == 0
