"""The hot path: an in-worker L1 in front of Redis, and hot quotes refreshed before their TTL ends."""

import time

import pytest

from opitios.cache import CacheStore, Entry
from opitios.shared_redis import SharedRedis

SNAPSHOTS = "/v2/stocks/snapshots"


@pytest.fixture
def store(make_app, redis_url, redis_prefix):
    shared = SharedRedis(redis_url, max_connections=4, prefix=redis_prefix)
    yield CacheStore(make_app(), shared), shared
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


def test_a_hot_quote_stays_a_hit_across_its_ttl(make_app, sandbox, rows, redis_url):
    rows.put("cache_ttl", {"stock_quote_open": 2})
    sandbox.switches(market="open")
    client = make_app(REDIS_URL=redis_url).test_client()
    assert client.get("/api/v1/stocks/AAPL/quote").headers["X-Cache-Status"] == "MISS"
    statuses, ages = [], []
    deadline = time.monotonic() + 5  # two and a half TTLs
    while time.monotonic() < deadline:
        response = client.get("/api/v1/stocks/AAPL/quote")
        statuses.append(response.headers["X-Cache-Status"])
        ages.append(int(response.headers["Cache-Control"].removeprefix("max-age=")))
        time.sleep(0.1)
    assert set(statuses) == {"HIT"}  # refreshed ahead: no client waited for the upstream
    assert sandbox.count(SNAPSHOTS) >= 2  # and the upstream was asked again before each TTL ran out
    assert max(ages) <= 2


def test_a_quote_nobody_asks_for_is_not_refreshed(make_app, sandbox, rows):
    rows.put("cache_ttl", {"stock_quote_open": 2, "refresh_ahead_window": 1})
    sandbox.switches(market="open")
    client = make_app().test_client()
    client.get("/api/v1/stocks/AAPL/quote")
    time.sleep(3.5)
    assert sandbox.count(SNAPSHOTS) == 1


def test_refresh_ahead_can_be_switched_off(make_app, sandbox, rows):
    rows.put("cache_ttl", {"stock_quote_open": 2, "refresh_ahead_window": 0})
    sandbox.switches(market="open")
    client = make_app().test_client()
    for _ in range(3):
        client.get("/api/v1/stocks/AAPL/quote")
        time.sleep(1)
    assert sandbox.count(SNAPSHOTS) == 2  # one miss per TTL, nothing in between


def test_two_workers_refresh_a_hot_quote_once_between_them(make_app, sandbox, rows, redis_url):
    rows.put("cache_ttl", {"stock_quote_open": 2})
    sandbox.switches(market="open")
    workers = [make_app(REDIS_URL=redis_url).test_client() for _ in range(2)]
    deadline = time.monotonic() + 4  # two TTLs
    while time.monotonic() < deadline:
        for client in workers:
            assert client.get("/api/v1/stocks/AAPL/quote").status_code == 200
        time.sleep(0.1)
    # The first miss, then about one refresh per 1.6 s for both workers together (not one each).
    assert sandbox.count(SNAPSHOTS) <= 4
