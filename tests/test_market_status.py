"""market_status comes from the upstream clock, asked in the background: never by a request, at most once a minute."""

from datetime import datetime, timedelta, timezone

import pytest

from opitios import extensions
from tests.waiting import eventually

CLOCK = "/v2/clock"
BARS = "/api/v1/stocks/AAPL/bars"  # daily bars: 3600 s open, 86400 s closed


def max_age(response):
    return int(response.headers["Cache-Control"].removeprefix("max-age="))


def market_status(client, path="/api/v1/stocks/AAPL/quote"):
    return client.get(path).get_json()["metadata"]["market_status"]


class SteppedTime:
    """A UTC clock that moves only when the test says so."""

    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        return self.now


@pytest.mark.parametrize("market", ["open", "closed"])
def test_market_status_follows_the_upstream_clock(make_app, sandbox, market):
    sandbox.switches(market=market)
    client = make_app().test_client()
    assert market_status(client) == market


def test_no_request_asks_the_clock(client, sandbox):
    for path in ("/api/v1/stocks/AAPL/quote", "/api/v1/stocks/MSFT/quote", BARS, "/api/v1/options/AAPL/chain"):
        assert client.get(path).status_code == 200
    assert sandbox.count(CLOCK) == 0  # the app's own ask at start-up is all there was


def test_an_unreadable_clock_gives_unknown_and_the_shorter_ttl(make_app, sandbox):
    sandbox.switches(market="closed", error_status=500, path_prefix=CLOCK)
    client = make_app().test_client()
    for symbol in ("AAPL", "MSFT"):
        response = client.get(f"/api/v1/stocks/{symbol}/quote")
        assert response.status_code == 200
        assert response.get_json()["metadata"]["market_status"] == "unknown"
        assert max_age(response) <= 5  # the open-market TTL of a quote, not the closed one (300)
    assert sandbox.count(CLOCK) == 0  # a failed clock is not asked again by requests


def test_a_stalled_clock_delays_no_answer(make_app, sandbox):
    # The clock answers in ten minutes, and opitios would wait that long for it: far beyond this test.
    sandbox.switches(market="closed", latency_ms=600_000, path_prefix=CLOCK)
    client = make_app(wait_for_clock=False, OPITIOS_UPSTREAM_TIMEOUT="600").test_client()
    eventually(lambda: sandbox.count(CLOCK) == 1)  # the background ask has reached the upstream
    miss, hit = client.get(BARS), client.get(BARS)
    assert (miss.status_code, hit.status_code) == (200, 200)
    assert (miss.headers["X-Cache-Status"], hit.headers["X-Cache-Status"]) == ("MISS", "HIT")
    assert {r.get_json()["metadata"]["market_status"] for r in (miss, hit)} == {"unknown"}
    assert max_age(hit) <= 3600  # the open-market TTL, though a known clock would say closed (86400)
    # Both answers arrived while the clock request was still outstanding: neither waited for it.
    assert [call["status"] for call in sandbox.calls()["log"] if call["path"] == CLOCK] == [None]


def test_a_clock_answering_past_boundaries_is_asked_at_most_once_a_minute(make_app, sandbox):
    sandbox.switches(now="2024-06-05T18:00:00Z", market="open")  # its next close is long past
    app = make_app()
    client = app.test_client()
    clock = extensions.of(app).services.clock
    time = SteppedTime(datetime.now(timezone.utc) + timedelta(hours=1))  # later than any ask made so far
    clock.now = time
    # run_once is what the background thread does every half second; whichever asks, one ask is due.
    eventually(lambda: clock.run_once() or sandbox.count(CLOCK) == 1)
    eventually(lambda: market_status(client) == "open")
    for _ in range(59):
        time.now += timedelta(seconds=1)
        assert market_status(client) == "open"
        clock.run_once()
    assert sandbox.count(CLOCK) == 1
    time.now += timedelta(seconds=1)  # a minute after the ask
    eventually(lambda: clock.run_once() or sandbox.count(CLOCK) == 2)
    assert sandbox.count(CLOCK) == 2


def test_an_ask_refused_by_the_budget_is_tried_again_within_the_minute(make_app, sandbox, rows):
    rows.put("upstream", {"requests_per_minute": 4})  # a burst of 1, then a token every 20 s
    sandbox.switches(now="2024-06-05T18:00:00Z", market="open")
    app = make_app()  # its first clock ask took the one token
    clock = extensions.of(app).services.clock
    clock.stop()  # the test makes the asks itself
    time = SteppedTime(datetime.now(timezone.utc) + timedelta(hours=1))
    clock.now = time
    assert clock.run_once()  # due, and refused by opitios' own budget: no upstream call
    assert sandbox.count(CLOCK) == 0
    time.now += timedelta(seconds=21)  # past that refusal's Retry-After, well within the minute
    assert clock.run_once()  # tried again: only an upstream call waits out the minute
