"""The shared cache: HIT after MISS, market-aware TTLs, merged batch misses, conditional requests."""

import json
import threading
import time

import pytest
import redis
from prometheus_client import REGISTRY

from opitios import extensions
from opitios.cache import Entry
from opitios.data_classes import STOCK_QUOTE
from tests.waiting import eventually

SNAPSHOTS = "/v2/stocks/snapshots"


@pytest.fixture(params=["in-process", "redis"])
def cached_app(request, make_app):
    """The same behaviour with the in-process cache and with the machine's real Redis."""

    def build(**overrides):
        if request.param == "redis":
            overrides.setdefault("REDIS_URL", request.getfixturevalue("redis_url"))
        return make_app(**overrides)

    return build


def max_age(response):
    return int(response.headers["Cache-Control"].removeprefix("max-age="))


def test_hit_after_miss_with_the_same_values_and_less_time_left(cached_app, sandbox):
    sandbox.switches(market="closed")
    client = cached_app().test_client()
    first = client.get("/api/v1/stocks/AAPL/quote")
    assert first.headers["X-Cache-Status"] == "MISS" and first.get_json()["metadata"]["cache"] == "miss"
    time.sleep(1.05)
    second = client.get("/api/v1/stocks/AAPL/quote")
    assert second.headers["X-Cache-Status"] == "HIT" and second.get_json()["metadata"]["cache"] == "hit"
    assert second.get_json()["data"] == first.get_json()["data"]
    assert second.get_json()["metadata"]["data_timestamp"] == first.get_json()["metadata"]["data_timestamp"]
    assert max_age(second) < max_age(first) <= 300
    assert sandbox.count(SNAPSHOTS) == 1


@pytest.mark.parametrize(
    "market, path, ttl",
    [
        ("open", "/api/v1/stocks/AAPL/quote", 5),
        ("closed", "/api/v1/stocks/AAPL/quote", 300),
        ("open", "/api/v1/stocks/AAPL/bars?timeframe=5Min", 60),
        ("closed", "/api/v1/stocks/AAPL/bars?timeframe=5Min", 3600),
        ("open", "/api/v1/stocks/AAPL/bars?timeframe=1Day", 3600),
        ("closed", "/api/v1/stocks/AAPL/bars?timeframe=1Week", 86400),
        ("open", "/api/v1/options/AAPL/chain", 60),
        ("closed", "/api/v1/options/AAPL/chain", 900),
    ],
)
def test_ttls_follow_the_data_class_and_the_upstream_market_clock(make_app, sandbox, market, path, ttl):
    sandbox.switches(market=market)
    response = make_app().test_client().get(path)
    assert response.get_json()["metadata"]["market_status"] == market
    assert ttl - 1 <= max_age(response) <= ttl


def test_option_quote_ttls(make_app, sandbox, catalog):
    sandbox.switches(market="open")
    contract = catalog["options"]["AAPL"][0]
    assert 14 <= max_age(make_app().test_client().get(f"/api/v1/options/{contract}/quote")) <= 15


def test_ttls_come_from_the_runtime_configuration(make_app, sandbox, rows):
    rows.put("cache_ttl", {"stock_quote_closed": 42})
    sandbox.switches(market="closed")
    assert 41 <= max_age(make_app().test_client().get("/api/v1/stocks/AAPL/quote")) <= 42


def test_a_batch_fetches_only_its_misses_in_one_call(cached_app, sandbox, catalog, upstream_queries):
    plain = [s for s in catalog["stocks"] if s not in catalog["special"].values()][:20]
    client = cached_app().test_client()
    assert client.post("/api/v1/stocks/quotes/batch", json={"symbols": plain[:15]}).status_code == 200
    response = client.post("/api/v1/stocks/quotes/batch", json={"symbols": plain})
    assert response.status_code == 200
    sent = upstream_queries(SNAPSHOTS)
    assert len(sent) == 2
    assert sent[1]["symbols"].split(",") == plain[15:]
    assert response.get_json()["data"]["summary"]["successful"] == 20
    assert response.headers["X-Cache-Status"] == "MISS"  # part of it came from the upstream now
    again = client.get("/api/v1/stocks/quotes?symbols=" + ",".join(plain))
    assert again.headers["X-Cache-Status"] == "HIT" and sandbox.count(SNAPSHOTS) == 2


def test_single_quotes_and_batches_share_entries(cached_app, sandbox):
    client = cached_app().test_client()
    client.get("/api/v1/stocks/AAPL/quote")
    response = client.post("/api/v1/stocks/quotes/batch", json={"symbols": ["AAPL"]})
    assert response.headers["X-Cache-Status"] == "HIT" and sandbox.count(SNAPSHOTS) == 1


def test_max_age_seconds_turns_older_entries_into_misses(cached_app, sandbox, upstream_queries):
    sandbox.switches(market="closed")
    client = cached_app().test_client()
    client.post("/api/v1/stocks/quotes/batch", json={"symbols": ["AAPL", "MSFT"]})
    time.sleep(1.05)
    lenient = client.post("/api/v1/stocks/quotes/batch", json={"symbols": ["AAPL", "MSFT"], "max_age_seconds": 60})
    assert lenient.headers["X-Cache-Status"] == "HIT" and sandbox.count(SNAPSHOTS) == 1
    strict = client.post("/api/v1/stocks/quotes/batch", json={"symbols": ["AAPL", "MSFT"], "max_age_seconds": 1})
    assert strict.headers["X-Cache-Status"] == "MISS"
    assert upstream_queries(SNAPSHOTS)[-1]["symbols"] == "AAPL,MSFT"


def test_max_age_zero_always_asks_the_upstream(cached_app, sandbox):
    client = cached_app().test_client()
    client.get("/api/v1/stocks/AAPL/quote")
    response = client.post("/api/v1/stocks/quotes/batch", json={"symbols": ["AAPL"], "max_age_seconds": 0})
    assert response.headers["X-Cache-Status"] == "MISS" and sandbox.count(SNAPSHOTS) == 2


def test_unknown_symbols_are_remembered_as_no_data(cached_app, sandbox):
    client = cached_app().test_client()
    assert client.get("/api/v1/stocks/ZZZZ/quote").status_code == 404
    assert client.get("/api/v1/stocks/ZZZZ/quote").status_code == 404
    assert sandbox.count(SNAPSHOTS) == 1


def test_if_none_match_gets_304_without_an_upstream_call(cached_app, sandbox):
    client = cached_app().test_client()
    first = client.get("/api/v1/stocks/AAPL/quote")
    etag = first.headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"')
    calls = sandbox.count()
    second = client.get("/api/v1/stocks/AAPL/quote", headers={"If-None-Match": etag})
    assert second.status_code == 304 and second.data == b""
    assert second.headers["ETag"] == etag
    assert second.headers["X-Cache-Status"] == "HIT" and second.headers["Cache-Control"].startswith("max-age=")
    assert sandbox.count() == calls
    other = client.get("/api/v1/stocks/AAPL/quote", headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200 and other.headers["ETag"] == etag


def test_the_etag_follows_the_data_not_the_metadata(cached_app):
    client = cached_app().test_client()
    one, two = client.get("/api/v1/stocks/AAPL/quote"), client.get("/api/v1/stocks/AAPL/quote")
    assert one.get_json()["metadata"]["request_id"] != two.get_json()["metadata"]["request_id"]
    assert one.headers["ETag"] == two.headers["ETag"]
    assert client.get("/api/v1/stocks/MSFT/quote").headers["ETag"] != one.headers["ETag"]


def test_concurrent_misses_of_one_key_make_one_upstream_call(cached_app, sandbox):
    sandbox.switches(latency_ms=300, path_prefix=SNAPSHOTS)
    app = cached_app()
    app.test_client().get("/api/v1/health")
    statuses = []

    def ask():
        statuses.append(app.test_client().get("/api/v1/stocks/NVDA/quote").status_code)

    threads = [threading.Thread(target=ask) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 20
    assert sandbox.count(SNAPSHOTS) == 1


def test_a_waiting_request_takes_an_entry_whose_upstream_call_answered_just_before_it_began(cached_app, sandbox):
    app = cached_app()
    parts = extensions.of(app)
    key = STOCK_QUOTE.key("NVDA", parts.services.provider.feeds()["stock"])
    token, owned = parts.protection.flight.claim([key])  # another request's claim: its upstream call is under way
    assert owned == {key}
    fetched_at = time.time()  # that call answers now, and the request below begins after it
    waits = lambda: REGISTRY.get_sample_value("opitios_singleflight_waits_total", {"data_class": "stock_quote"}) or 0  # noqa: E731
    before = waits()
    answers = []
    asking = threading.Thread(target=lambda: answers.append(app.test_client().get("/api/v1/stocks/NVDA/quote")))
    asking.start()
    eventually(lambda: waits() > before)  # it found no entry and waits for the claim's owner
    data = {"symbol": "NVDA", "bid_price": 1.25}
    parts.protection.store.set_many({key: Entry(data, "2026-11-30T14:30:00Z", fetched_at, 300)}, keep_for=600)
    parts.protection.flight.release(token, owned)
    asking.join()
    assert answers[0].status_code == 200 and answers[0].get_json()["data"] == data
    assert sandbox.count(SNAPSHOTS) == 0  # no second upstream call for what had just been fetched


def test_every_redis_key_is_under_the_configured_prefix(make_app, sandbox, redis_url, redis_prefix):
    client = make_app(REDIS_URL=redis_url).test_client()
    assert client.get("/api/v1/stocks/AAPL/quote").status_code == 200
    server = redis.Redis.from_url(redis_url)

    def ours_once_the_limit_is_synced():  # the namespace at the start of each key, so a key-prefix ACL covers them
        found = {key.decode() for key in server.scan_iter(match=f"{redis_prefix}:*", count=1000)}
        return found if any(key.startswith(f"{redis_prefix}:v1:limits") for key in found) else None

    try:
        # The cache entry, the budget and (once the worker's next sync has sent it) the client's limit count.
        keys = eventually(ours_once_the_limit_is_synced)
    finally:
        server.close()
    assert f"{redis_prefix}:v1:quote:stock:AAPL:iex" in keys
    assert f"{redis_prefix}:v1:budget" in keys


def test_an_entry_in_redis_is_json_holding_the_answers_data_and_etag(make_app, redis_url, redis_prefix):
    """Readable by anything that reads JSON (no pickles), and what a hit sends as it is."""
    response = make_app(REDIS_URL=redis_url).test_client().get("/api/v1/options/AAPL/chain?limit=2")
    server = redis.Redis.from_url(redis_url)
    try:
        [key] = list(server.scan_iter(match=f"{redis_prefix}:v1:chain:AAPL:*", count=1000))
        stored = json.loads(server.get(key))
    finally:
        server.close()
    assert stored["data"] == response.get_json()["data"]
    assert stored["etag"] == response.headers["ETag"]
    assert stored["ts"] == response.get_json()["metadata"]["data_timestamp"]
