"""The upstream budget holds through a Redis outage and a Redis that comes back empty."""

import itertools
import time

import pytest

from harness.redis_server import RedisServer
from opitios.upstream.budget import shape

PER_MINUTE = 40  # a burst of 10, then 30 more over the minute


@pytest.fixture
def redis_server():
    """A redis-server of the test's own, which it may kill and start again empty."""
    with RedisServer() as server:
        yield server


def cache_state(client):
    return client.get("/api/v1/health/ready").get_json()["data"]["cache"]


def test_the_budget_holds_through_a_redis_outage_and_an_empty_restart(make_app, sandbox, rows, redis_server):
    rows.put("upstream", {"requests_per_minute": PER_MINUTE})
    rows.put("cache_ttl", {"refresh_ahead_window": 0})  # only the clients' own misses reach the upstream
    workers = [make_app(REDIS_URL=redis_server.url, OPITIOS_WORKERS="2").test_client() for _ in range(2)]
    symbols = (f"S{number}" for number in itertools.count())
    statuses = []

    def load_until(done):
        """Steady load: each worker in turn is asked for a quote nobody asked for yet (an upstream call, or 429)."""
        while True:
            for worker in workers:
                statuses.append(worker.get(f"/api/v1/stocks/{next(symbols)}/quote").status_code)
            if done():
                return

    def spent():
        return statuses[-2:] == [429, 429]

    started = time.monotonic()
    load_until(spent)
    redis_server.kill()
    load_until(lambda: spent() and {cache_state(worker) for worker in workers} == {"degraded"})
    redis_server.start()  # the same port, empty
    load_until(lambda: spent() and {cache_state(worker) for worker in workers} == {"ok"})
    elapsed = time.monotonic() - started

    burst, rate = shape(PER_MINUTE)
    # However long this took, one bucket allows its burst and its refill: no second or third burst
    # for the outage or the empty restart (the start-up clock asks came before and only lowered it).
    assert sandbox.count() <= burst + rate * elapsed
    # The load did reach the upstream ("no data" for these symbols): the burst, less the start-up clock asks.
    assert statuses.count(404) >= burst - len(workers)
    assert set(statuses) == {404, 429}


def test_a_worker_that_starts_while_redis_is_away_takes_no_fresh_burst(make_app, sandbox, rows, redis_server):
    rows.put("upstream", {"requests_per_minute": PER_MINUTE})
    rows.put("cache_ttl", {"refresh_ahead_window": 0})
    redis_server.kill()  # say, gunicorn recycles a worker during an outage
    started = time.monotonic()
    worker = make_app(REDIS_URL=redis_server.url, OPITIOS_WORKERS="2").test_client()
    statuses = [worker.get(f"/api/v1/stocks/S{number}/quote").status_code for number in range(12)]
    elapsed = time.monotonic() - started
    _, rate = shape(PER_MINUTE)
    # It cannot know what the shared bucket has left, so it starts from nothing and earns its share's refill.
    assert sandbox.count() <= 1 + rate / 2 * elapsed
    assert 429 in statuses
