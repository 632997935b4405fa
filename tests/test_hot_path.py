"""The hot path: an in-worker L1 in front of Redis, and hot quotes refreshed before their TTL ends."""

import time

import pytest

from opitios import extensions
from opitios.cache import CacheStore, Entry
from opitios.shared_redis import SharedRedis

SNAPSHOTS = "/v2/stocks/snapshots"


@pytest.fixture
def store(redis_url, redis_prefix):
    shared = SharedRedis(redis_url, max_connections=4, prefix=redis_prefix)
    yield CacheStore(shared), shared
    shared.close()


def test_the_l1_answers_a_fresh_entry_without_redis(store):
    cache, shared = store
    entry = Entry({"bid_price": 1.5}, "2024-06-03T18:59:59Z", time.time(), ttl=30)
    cache.set_many({"quote:stock:AAPL:iex": entry}, keep_for=60)
    shared.client.delete(shared.key("quote:stock:AAPL:iex"))  # Redis forgets it; this worker's L1 has not
    assert cache.get_many(["quote:stock:AAPL:iex"])["quote:stock:AAPL:iex"] == entry
    assert cache.get_many(["quote:stock:AAPL:iex"], use_l1=False) == {}


def test_the_l1_never_answers_past_the_entrys_ttl(store):
    cache, _ = store
    entry = Entry({"bid_price": 1.5}, None, time.time(), ttl=1)
    cache.set_many({"quote:stock:MSFT:iex": entry}, keep_for=30)
    time.sleep(1.1)
    found = cache.get_many(["quote:stock:MSFT:iex"])["quote:stock:MSFT:iex"]  # from Redis, kept for the stale window
    assert found == entry and not found.fresh(time.time())


def refresher(app):
    """The app's refresh-ahead, its background thread stopped: the test decides when it runs."""
    ahead = extensions.of(app).services.cached.ahead
    ahead.stop()
    return ahead


def open_market_app(make_app, sandbox, rows, cache_ttl: dict, **env):
    """An app with these TTLs, the market open, its refresh-ahead stopped: (refresh-ahead, a test client)."""
    rows.put("cache_ttl", cache_ttl)
    sandbox.switches(market="open")
    app = make_app(**env)
    return refresher(app), app.test_client()


def wait_until(moment: float) -> None:
    """Sleep until the wall clock has passed ``moment`` (a lower bound only: a slow machine waits longer)."""
    while time.time() < moment:
        time.sleep(max(0.01, moment - time.time()))


TTL = 6  # refresh-ahead acts when max(1 s, TTL / 5) is left; the wide margins hold on a busy machine


def test_a_hot_quote_is_refreshed_before_its_ttl_ends_and_stays_a_hit(make_app, sandbox, rows, redis_url):
    ahead, client = open_market_app(make_app, sandbox, rows, {"stock_quote_open": TTL}, REDIS_URL=redis_url)
    first = client.get("/api/v1/stocks/AAPL/quote")
    assert first.headers["X-Cache-Status"] == "MISS"
    fetched = time.time()
    assert ahead.run_once() == 0  # not due yet: most of the TTL is left
    wait_until(fetched + TTL - 1.1)  # due: 1.1 s of a 6 s TTL left (≤ TTL / 5)
    assert ahead.run_once() == 1 and sandbox.count(SNAPSHOTS) == 2
    wait_until(fetched + TTL)  # the first entry's TTL is over; the refreshed one has most of its TTL left
    after = client.get("/api/v1/stocks/AAPL/quote")
    assert after.headers["X-Cache-Status"] == "HIT"  # refreshed ahead: no client waited for the upstream
    assert sandbox.count(SNAPSHOTS) == 2
    assert int(after.headers["Cache-Control"].removeprefix("max-age=")) <= TTL


def test_a_key_past_half_its_ttl_joins_the_call_of_a_due_one(make_app, sandbox, rows):
    """Hot keys fetched at different moments fall into step: one upstream call refreshes both."""
    ahead, client = open_market_app(make_app, sandbox, rows, {"stock_quote_open": TTL})
    client.get("/api/v1/stocks/AAPL/quote")
    first = time.time()
    wait_until(first + 1.5)
    client.get("/api/v1/stocks/MSFT/quote")
    second = time.time()
    wait_until(max(first + TTL - 1.1, second + TTL / 2 + 0.1))  # AAPL due; MSFT past half its TTL, not due
    assert ahead.run_once() == 2
    assert sandbox.count(SNAPSHOTS) == 3  # the two misses, then one call for both


def test_a_quote_nobody_asks_for_is_not_refreshed(make_app, sandbox, rows):
    ahead, client = open_market_app(make_app, sandbox, rows, {"stock_quote_open": TTL, "refresh_ahead_window": 1})
    client.get("/api/v1/stocks/AAPL/quote")
    wait_until(time.time() + TTL - 1)  # due, but nobody has asked within the 1 s window
    assert ahead.run_once() == 0
    assert sandbox.count(SNAPSHOTS) == 1


def test_refresh_ahead_can_be_switched_off(make_app, sandbox, rows):
    ahead, client = open_market_app(make_app, sandbox, rows, {"stock_quote_open": 2, "refresh_ahead_window": 0})
    client.get("/api/v1/stocks/AAPL/quote")
    fetched = time.time()
    wait_until(fetched + 1.5)
    assert ahead.run_once() == 0  # due, but refresh-ahead is off
    wait_until(fetched + 2)
    assert client.get("/api/v1/stocks/AAPL/quote").headers["X-Cache-Status"] == "MISS"  # one miss per TTL
    assert sandbox.count(SNAPSHOTS) == 2


def test_two_workers_refresh_a_hot_quote_once_between_them(make_app, sandbox, rows, redis_url):
    rows.put("cache_ttl", {"stock_quote_open": TTL})
    sandbox.switches(market="open")
    apps = [make_app(REDIS_URL=redis_url) for _ in range(2)]
    workers = [(refresher(app), app.test_client()) for app in apps]
    for _, client in workers:  # both workers answer it, so both track it as hot
        assert client.get("/api/v1/stocks/AAPL/quote").status_code == 200
    fetched = time.time()
    assert sandbox.count(SNAPSHOTS) == 1
    wait_until(fetched + TTL - 1.1)
    # The first refreshes; the second finds the entry already refreshed in Redis and calls nothing.
    assert [ahead.run_once() for ahead, _ in workers] == [1, 0]
    assert sandbox.count(SNAPSHOTS) == 2
