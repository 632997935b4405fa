"""Bars: the requested timeframe reaches the upstream exactly, values pass through, pages continue."""

import pytest

BARS = "/v2/stocks/bars"
TIMEFRAMES = ["1Min", "5Min", "15Min", "30Min", "1Hour", "4Hour", "1Day", "1Week", "1Month"]


def as_bar(raw):
    return {
        "timestamp": raw["t"], "open": raw["o"], "high": raw["h"], "low": raw["l"], "close": raw["c"],
        "volume": raw["v"], "trade_count": raw["n"], "vwap": raw["vw"],
    }


@pytest.mark.parametrize("timeframe", TIMEFRAMES)
def test_each_timeframe_reaches_the_upstream_as_asked(client, sandbox, upstream_queries, timeframe):
    response = client.get(f"/api/v1/stocks/AAPL/bars?timeframe={timeframe}&limit=3")
    assert response.status_code == 200, response.get_json()
    sent = upstream_queries(BARS)
    assert len(sent) == 1
    assert sent[0]["timeframe"] == timeframe
    assert sent[0]["symbols"] == "AAPL"
    data = response.get_json()["data"]
    assert data["timeframe"] == timeframe and data["count"] == len(data["bars"]) == 3


def test_values_pass_through_in_the_upstreams_order(client, sandbox, upstream_queries):
    start, end = "2024-06-03T13:30:00Z", "2024-06-03T15:00:00Z"
    response = client.get(f"/api/v1/stocks/aapl/bars?timeframe=5Min&start={start}&end={end}&limit=4")
    assert response.status_code == 200
    sent = upstream_queries(BARS)[-1]
    assert (sent["start"], sent["end"], sent["limit"], sent["feed"]) == (start, end, "4", "iex")
    assert sent.get("sort", "asc") == "asc"
    _, _, raw = sandbox.get(BARS, symbols="AAPL", timeframe="5Min", start=start, end=end, limit=4, feed="iex")
    body = response.get_json()
    assert body["data"]["bars"] == [as_bar(bar) for bar in raw["bars"]["AAPL"]]
    assert body["data"]["bars"][0]["timestamp"] == "2024-06-03T13:30:00Z"
    assert body["metadata"]["data_source"] == "alpaca_historical"
    assert body["metadata"]["data_timestamp"] == raw["bars"]["AAPL"][-1]["t"]


def test_without_start_the_most_recent_bars_come_oldest_first(client, sandbox, upstream_queries):
    response = client.get("/api/v1/stocks/AAPL/bars?timeframe=1Day&limit=5")
    assert response.status_code == 200
    sent = upstream_queries(BARS)[-1]
    assert sent["sort"] == "desc" and sent["limit"] == "5"
    _, _, raw = sandbox.get(BARS, symbols="AAPL", timeframe="1Day", start=sent["start"], limit=5, sort="desc", feed="iex")
    bars = response.get_json()["data"]["bars"]
    assert bars == [as_bar(bar) for bar in reversed(raw["bars"]["AAPL"])]
    stamps = [bar["timestamp"] for bar in bars]
    assert stamps == sorted(stamps)


def test_without_start_an_end_before_alpacas_history_is_asked_for_as_it_is(client, sandbox, upstream_queries):
    """Asked from the start of history (2016) up to an earlier end, Alpaca would refuse its own range."""
    response = client.get("/api/v1/stocks/AAPL/bars?end=2010-03-01&limit=5")

    assert response.status_code in (200, 404), response.get_json()
    sent = upstream_queries(BARS)[-1]
    assert sent["start"] <= sent["end"] == "2010-03-01"


def test_the_page_token_is_passed_through(client, sandbox, upstream_queries):
    base = "/api/v1/stocks/AAPL/bars?timeframe=1Min&start=2024-06-03T13:30:00Z&end=2024-06-03T14:30:00Z&limit=10"
    first = client.get(base).get_json()["data"]
    assert first["page_info"]["has_more"] is True
    token = first["page_info"]["next_page_token"]
    assert token
    second = client.get(f"{base}&page_token={token}").get_json()["data"]
    assert upstream_queries(BARS)[-1]["page_token"] == token
    assert second["bars"][0]["timestamp"] > first["bars"][-1]["timestamp"]
    _, _, raw = sandbox.get(BARS, symbols="AAPL", timeframe="1Min", start="2024-06-03T13:30:00Z", end="2024-06-03T14:30:00Z", limit=20, feed="iex")
    assert first["bars"] + second["bars"] == [as_bar(bar) for bar in raw["bars"]["AAPL"]]


@pytest.mark.parametrize("token", ["not-a-token", "%C3%A9t%C3%A9"])  # the second is not even ASCII
def test_a_page_token_the_upstream_refuses_is_400(client, token):
    response = client.get(f"/api/v1/stocks/AAPL/bars?page_token={token}")
    assert response.status_code == 400
    assert response.headers["X-Error-Code"] == "INVALID_PARAMETER"


def test_the_last_page_says_there_is_no_more(client):
    data = client.get("/api/v1/stocks/AAPL/bars?timeframe=1Hour&start=2024-06-03&end=2024-06-03T23:59:00Z&limit=100").get_json()["data"]
    assert data["page_info"] == {"has_more": False, "next_page_token": None}


def test_no_bars_is_404_historical_data_unavailable(client):
    response = client.get("/api/v1/stocks/ZZZZ/bars")
    assert response.status_code == 404
    assert response.headers["X-Error-Code"] == "HISTORICAL_DATA_UNAVAILABLE"


@pytest.mark.parametrize(
    "query, code",
    [
        ("timeframe=2Min", "INVALID_PARAMETER"),
        ("timeframe=1Year", "INVALID_PARAMETER"),
        ("limit=0", "INVALID_PARAMETER"),
        ("limit=1001", "INVALID_PARAMETER"),
        ("limit=ten", "INVALID_PARAMETER"),
        ("start=yesterday", "INVALID_PARAMETER"),
        ("start=2024-13-01", "INVALID_PARAMETER"),
        ("start=2024-06-05&end=2024-06-01", "INVALID_DATE_RANGE"),
        ("start=2024-06-03T15:00:00Z&end=2024-06-03T14:00:00Z", "INVALID_DATE_RANGE"),
        ("start=0001-01-01T00:00:00%2B01:00", "INVALID_PARAMETER"),  # year 0 in UTC: no datetime holds it
        ("end=9999-12-31T23:00:00-01:00", "INVALID_PARAMETER"),
    ],
)
def test_bad_parameters_are_400_without_an_upstream_call(client, sandbox, query, code):
    response = client.get(f"/api/v1/stocks/AAPL/bars?{query}")
    assert response.status_code == 400
    assert response.headers["X-Error-Code"] == code
    assert sandbox.count() == 0


def test_a_malformed_symbol_is_400(client, sandbox):
    response = client.get("/api/v1/stocks/a$b/bars")
    assert response.headers["X-Error-Code"] == "INVALID_SYMBOL_FORMAT"
    assert sandbox.count() == 0
