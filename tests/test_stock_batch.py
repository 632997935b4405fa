"""Batch quotes: one upstream call for all symbols, errors in place, counts right."""

import pytest

SNAPSHOTS = "/v2/stocks/snapshots"


def twenty(catalog):
    plain = [s for s in catalog["stocks"] if s not in catalog["special"].values()]
    assert len(plain) >= 20
    return plain[:20]


def test_a_batch_of_twenty_makes_exactly_one_upstream_call(client, sandbox, catalog, upstream_queries):
    symbols = twenty(catalog)
    response = client.post("/api/v1/stocks/quotes/batch", json={"symbols": symbols})
    assert response.status_code == 200
    assert sandbox.count(SNAPSHOTS) == 1
    assert upstream_queries(SNAPSHOTS)[0]["symbols"].split(",") == symbols
    data = response.get_json()["data"]
    assert [entry["symbol"] for entry in data["quotes"]] == symbols
    assert all(entry["status"] == "success" for entry in data["quotes"])
    assert data["summary"] == {"total_requested": 20, "successful": 20, "failed": 0}


def test_one_unknown_symbol_is_an_error_entry_and_the_others_are_intact(client, sandbox):
    _, _, raw = sandbox.get(SNAPSHOTS, symbols="AAPL,MSFT", feed="iex")
    response = client.post("/api/v1/stocks/quotes/batch", json={"symbols": ["AAPL", "ZZZZ", "msft"]})
    assert response.status_code == 200
    body = response.get_json()
    aapl, zzzz, msft = body["data"]["quotes"]
    assert aapl["status"] == "success" and aapl["bid_price"] == raw["AAPL"]["latestQuote"]["bp"]
    assert msft["status"] == "success" and msft["last_price"] == raw["MSFT"]["latestTrade"]["p"]
    assert zzzz == {
        "symbol": "ZZZZ",
        "status": "error",
        "error": {"code": "SYMBOL_NOT_FOUND", "message": "No real market data for symbol ZZZZ"},
    }
    assert body["data"]["summary"] == {"total_requested": 3, "successful": 2, "failed": 1}
    # The batch's datum time is its oldest quote's, so freshness is never overstated.
    oldest = min((raw[s]["latestQuote"]["t"] for s in ("AAPL", "MSFT")))
    assert body["metadata"]["data_timestamp"] == oldest


def test_the_get_form_answers_like_the_batch(client, sandbox):
    post = client.post("/api/v1/stocks/quotes/batch", json={"symbols": ["AAPL", "XYZ"]}).get_json()["data"]
    response = client.get("/api/v1/stocks/quotes?symbols=AAPL,xyz")
    assert response.get_json()["data"] == post
    assert response.headers["X-Cache-Status"] == "HIT"  # both forms share the cache entries
    assert sandbox.count(SNAPSHOTS) == 1


def test_duplicates_are_asked_for_once(client, upstream_queries):
    data = client.post("/api/v1/stocks/quotes/batch", json={"symbols": ["AAPL", "aapl", "MSFT"]}).get_json()["data"]
    assert [entry["symbol"] for entry in data["quotes"]] == ["AAPL", "MSFT"]
    assert upstream_queries(SNAPSHOTS)[-1]["symbols"] == "AAPL,MSFT"


def test_max_age_seconds_is_accepted(client):
    response = client.post("/api/v1/stocks/quotes/batch", json={"symbols": ["AAPL"], "max_age_seconds": 10})
    assert response.status_code == 200
    assert response.get_json()["metadata"]["cache"] == "miss"


@pytest.mark.parametrize(
    "method, path, kwargs, code",
    [
        ("post", "/api/v1/stocks/quotes/batch", {"json": {"symbols": [f"S{i}" for i in range(21)]}}, "REQUEST_SIZE_EXCEEDED"),
        ("get", "/api/v1/stocks/quotes?symbols=" + ",".join(f"S{i}" for i in range(21)), {}, "REQUEST_SIZE_EXCEEDED"),
        ("post", "/api/v1/stocks/quotes/batch", {"json": {"symbols": ["AAPL", "b$d"]}}, "INVALID_SYMBOL_FORMAT"),
        ("get", "/api/v1/stocks/quotes?symbols=AAPL,b$d", {}, "INVALID_SYMBOL_FORMAT"),
        ("post", "/api/v1/stocks/quotes/batch", {"json": {"symbols": []}}, "INVALID_REQUEST_BODY"),
        ("post", "/api/v1/stocks/quotes/batch", {"json": {"symbols": "AAPL"}}, "INVALID_REQUEST_BODY"),
        ("post", "/api/v1/stocks/quotes/batch", {"json": {}}, "INVALID_REQUEST_BODY"),
        ("post", "/api/v1/stocks/quotes/batch", {"json": {"symbols": ["AAPL"], "max_age_seconds": -1}}, "INVALID_REQUEST_BODY"),
        ("post", "/api/v1/stocks/quotes/batch", {"json": {"symbols": ["AAPL"], "max_age_seconds": 1.5}}, "INVALID_REQUEST_BODY"),
        ("get", "/api/v1/stocks/quotes", {}, "INVALID_PARAMETER"),
        ("get", "/api/v1/stocks/quotes?symbols=", {}, "INVALID_PARAMETER"),
        ("get", "/api/v1/stocks/quotes?symbols=AAPL&max_age_seconds=soon", {}, "INVALID_PARAMETER"),
    ],
)
def test_bad_batches_are_400_without_an_upstream_call(client, sandbox, method, path, kwargs, code):
    response = getattr(client, method)(path, **kwargs)
    assert response.status_code == 400
    assert response.headers["X-Error-Code"] == code
    assert sandbox.count() == 0


@pytest.mark.parametrize("count", [21, 150])
def test_a_batch_past_the_limit_names_the_limit_in_force(client, sandbox, count):
    response = client.post("/api/v1/stocks/quotes/batch", json={"symbols": [f"S{i}" for i in range(count)]})
    assert response.status_code == 400 and response.headers["X-Error-Code"] == "REQUEST_SIZE_EXCEEDED"
    assert response.get_json()["error"]["details"] == {"max_symbols": 20, "received": count}
    assert sandbox.count() == 0
