"""What a request costs against its client's limits, and that no request can take the limiter off its shared counts."""

import logging

import pytest

from harness.redis_server import RedisServer
from opitios import extensions

QUOTE = "/api/v1/stocks/AAPL/quote"
BATCH = "/api/v1/stocks/quotes/batch"
# Hourly: a minute boundary crossed during a test frees nothing.
FIVE_AN_HOUR = {"keyed_per_minute": 1_000_000, "keyed_per_hour": 5}


@pytest.fixture
def own_redis():
    with RedisServer() as server:
        yield server


@pytest.fixture
def limited(own_redis, make_app, rows):
    """A client of an app on Redis whose key may make 5 requests an hour."""
    rows.put("rate_limits", FIVE_AN_HOUR)
    return make_app(REDIS_URL=own_redis.url).test_client()


def test_a_batch_costs_its_distinct_valid_symbols(limited):
    batch = limited.post(BATCH, json={"symbols": ["AAPL", "aapl", "MSFT"]})  # AAPL once: asked for once
    assert batch.status_code == 200 and len(batch.get_json()["data"]["quotes"]) == 2
    assert limited.get("/api/v1/stocks/quotes?symbols=SPY,QQQ").status_code == 200
    assert limited.get("/api/v1/stocks/quotes?symbols=SPY,QQQ").status_code == 429  # 4 spent: 2 more do not fit
    assert limited.get(QUOTE).status_code == 200  # the refused batch cost nothing, so the fifth fits
    assert limited.get(QUOTE).status_code == 429


HOSTILE = {
    "nested 3,000 deep": ("[" * 3000 + "]" * 3000).encode(),
    "not JSON": b'{"symbols": ["AAPL",',
    "symbols not a list": b'{"symbols": {"AAPL": 1}}',
    "over 64 KiB": b'{"symbols": ["' + b"A" * (64 * 1024) + b'"]}',
}


@pytest.mark.parametrize("body", HOSTILE.values(), ids=HOSTILE.keys())
def test_no_body_takes_the_limiter_off_its_shared_counts(limited, body, caplog):
    caplog.set_level(logging.INFO)
    assert [limited.get(QUOTE).status_code for _ in range(5)] == [200] * 5  # the hour's 5, counted on Redis
    for _ in range(3):
        refused = limited.post(BATCH, data=body, content_type="application/json")
        assert refused.status_code in (413, 429), refused.status_code
        assert refused.get_json()["error"]["code"] in ("REQUEST_SIZE_EXCEEDED", "RATE_LIMIT_EXCEEDED")
        quote = limited.get(QUOTE)
        assert quote.status_code == 429 and quote.headers["X-RateLimit-Remaining"] == "0"
    assert "Failed to rate limit" not in caplog.text
    assert "falling back to in-memory" not in caplog.text
    assert "Traceback" not in caplog.text


def test_an_invalid_batch_is_refused_for_what_it_is_and_costs_one(limited):
    refused = limited.post(BATCH, data=HOSTILE["nested 3,000 deep"], content_type="application/json")
    assert refused.status_code == 400 and refused.get_json()["error"]["code"] == "INVALID_REQUEST_BODY"
    assert [limited.get(QUOTE).status_code for _ in range(5)] == [200] * 4 + [429]


def test_a_batch_past_the_limit_in_force_is_refused_for_what_it_is_and_costs_one(make_app, rows):
    rows.put("rate_limits", FIVE_AN_HOUR)
    rows.put("limits", {"max_batch_symbols": 2})
    client = make_app().test_client()
    refused = client.post(BATCH, json={"symbols": ["AAPL", "MSFT", "SPY"]})
    assert refused.status_code == 400 and refused.get_json()["error"]["code"] == "REQUEST_SIZE_EXCEEDED"
    assert [client.get(QUOTE).status_code for _ in range(5)] == [200] * 4 + [429]


@pytest.mark.parametrize("shared", [True, False], ids=["counted with Redis", "counted in the worker alone"])
def test_a_request_one_limit_refuses_costs_nothing_on_the_others(own_redis, make_app, rows, shared):
    rows.put("rate_limits", {"keyed_per_minute": 100, "keyed_per_hour": 3, "sync_ms": 60_000})
    app = make_app(REDIS_URL=own_redis.url) if shared else make_app()
    client = app.test_client()
    assert [client.get(QUOTE).status_code for _ in range(3)] == [200] * 3
    refused = client.get(QUOTE)  # the minute's limit has room; the hour's is spent
    assert refused.status_code == 429 and refused.headers["X-RateLimit-Limit"] == "3"
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    rows.put("rate_limits", {"keyed_per_minute": 100, "keyed_per_hour": 1000, "sync_ms": 60_000})
    extensions.of(app).runtime.refresh()
    answer = client.get(QUOTE)
    assert answer.status_code == 200 and answer.headers["X-RateLimit-Limit"] == "100"
    # 3 and this one spent: the refused request took nothing from the minute (a minute boundary crossed
    # meanwhile may give back more).
    assert int(answer.headers["X-RateLimit-Remaining"]) >= 96
