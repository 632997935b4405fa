"""Client limits counted in each worker and reconciled with Redis in the background (opitios/access/synced_counts.py).

Every Redis here is a redis-server of the test's own, so its command counts are
ours alone and an outage is a kill of that process. No test waits for time to
pass: a worker's sync is either called directly or waited for through the
``opitios_rate_limit_synced_timestamp_seconds`` metric.
"""

import json
import math
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from harness.servers import GunicornServer, access_entries
from harness.database import migrated_sqlite
from opitios import extensions
from opitios.access.keys import create_key
from opitios.access.synced_counts import SyncedStorage
from opitios.db import make_engine
from opitios.shared_redis import SharedRedis
from harness.redis_server import RedisServer
from tests.limit_sync import counts_shared
from tests.waiting import eventually

QUOTE = "/api/v1/stocks/AAPL/quote"
LIMITER_COMMANDS = ("evalsha", "eval", "mget", "get", "incrby")  # whatever the limiter may send


@pytest.fixture
def own_redis():
    with RedisServer() as server:
        yield server


def limiter_calls(server: RedisServer) -> int:
    counts = server.commands()
    return sum(counts.get(name, 0) for name in LIMITER_COMMANDS)


def sync(app) -> None:
    assert extensions.of(app).limiter.storage.sync()


# -- in one process: the decision is local, the sync carries it --------------------------------------


def test_a_limited_request_costs_no_redis_round_trip(own_redis, make_app, rows):
    rows.put("rate_limits", {"sync_ms": 60_000})  # no background round during the test
    client = make_app(REDIS_URL=own_redis.url).test_client()
    assert client.get(QUOTE).status_code == 200  # the first one reads the client's counts once, and warms the cache
    before = limiter_calls(own_redis)
    answers = [client.get(QUOTE) for _ in range(50)]
    assert [a.status_code for a in answers] == [200] * 50
    remaining = [int(a.headers["X-RateLimit-Remaining"]) for a in answers]
    # One less per request (a minute boundary crossed meanwhile may give one back).
    assert remaining[0] <= 118 and remaining[0] - remaining[-1] in (48, 49)
    assert limiter_calls(own_redis) == before  # neither the decisions nor the headers asked Redis


# Hourly limits below: a minute boundary crossed during a test cannot free anything.
HOURLY = {"keyed_per_minute": 1_000_000, "sync_ms": 60_000}


def test_hits_reach_the_other_workers_at_their_next_sync(own_redis, make_app, rows):
    rows.put("rate_limits", {**HOURLY, "keyed_per_hour": 7})
    one, other = (make_app(REDIS_URL=own_redis.url) for _ in range(2))
    first, second = one.test_client(), other.test_client()
    assert [first.get(QUOTE).status_code for _ in range(6)] == [200] * 6
    # Not sent yet, so the other worker cannot know: this is the documented overshoot.
    assert [second.get(QUOTE).status_code for _ in range(2)] == [200] * 2
    sync(one), sync(other), sync(one)  # one sends its 6, other sends its 2 and reads 8, one reads 8
    assert first.get(QUOTE).status_code == 429 and second.get(QUOTE).status_code == 429


def test_a_worker_meeting_a_client_reads_its_counts_first(own_redis, make_app, rows):
    rows.put("rate_limits", {**HOURLY, "keyed_per_hour": 5})
    one, other = (make_app(REDIS_URL=own_redis.url) for _ in range(2))
    assert [one.test_client().get(QUOTE).status_code for _ in range(5)] == [200] * 5
    sync(one)
    refused = other.test_client().get(QUOTE)
    assert refused.status_code == 429 and refused.headers["X-RateLimit-Remaining"] == "0"


def test_a_round_carries_only_the_clients_of_the_last_seconds(own_redis):
    now = [1_800_000_000.0]
    storage = SyncedStorage(
        f"synced+{own_redis.url}", shared=SharedRedis(own_redis.url, max_connections=2),
        sync_seconds=lambda: 3600, clock=lambda: now[0],  # rounds only when the test calls them
    )
    try:
        for client in range(100):
            assert storage.acquire_sliding_window_entry(f"client{client}", 10, 3600)
        assert storage.sync()
        now[0] += 31  # the README: a client is read again after 30 idle seconds
        before = own_redis.commands()
        assert storage.sync()  # the round after the pause
        assert storage.acquire_sliding_window_entry("client7", 10, 3600)  # back: its counts are read again, once
        assert storage.sync()
        after = own_redis.commands()
        assert after["mget"] - before.get("mget", 0) == 1
        assert after["get"] - before["get"] == 2  # the rounds read client7's two windows, not 200
        assert storage.get_sliding_window("client7", 3600)[2] == 2
    finally:
        storage.stop()


def test_a_worker_keeps_what_it_knew_through_an_outage_however_idle(own_redis):
    now = [1_800_000_000.0]
    storage = SyncedStorage(
        f"synced+{own_redis.url}", shared=SharedRedis(own_redis.url, max_connections=2), workers=2,
        sync_seconds=lambda: 3600, clock=lambda: now[0],
    )
    try:
        assert all(storage.acquire_sliding_window_entry("desk", 10, 3600) for _ in range(8))
        assert storage.sync()
        own_redis.kill()
        assert not storage.sync()
        now[0] += 31  # idle long enough to be forgotten, were Redis there to read it again
        assert not storage.sync()
        # 8 spent, 2 left: this worker's share is 1 of them.
        assert [storage.acquire_sliding_window_entry("desk", 10, 3600) for _ in range(2)] == [True, False]
    finally:
        storage.stop()


# -- across two gunicorn workers ---------------------------------------------------------------------


@pytest.fixture
def limited_gateway(sandbox, own_redis, tmp_path, rows_of):
    """Start opitios under gunicorn (2 workers) on our Redis, with a key and the given rate_limits; → (server, key)."""
    servers = []

    def start(**rate_limits):
        database = migrated_sqlite(tmp_path, f"limits{len(servers)}.db")
        engine = make_engine(database)
        key, _ = create_key(engine, "limited desk", ["read"])
        rows_of(engine).put("rate_limits", {"sync_ms": 10, **rate_limits})
        engine.dispose()
        env = {**sandbox.gateway_env(), "DATABASE_URL": database, "REDIS_URL": own_redis.url}
        servers.append(GunicornServer("wsgi:app", workers=2, env=env).start())
        return servers[-1], key

    yield start
    for server in servers:
        server.stop()
        server.remove_log()


def test_a_client_limit_holds_across_workers(limited_gateway):
    # Five an hour: a minute boundary crossed during the test cannot free anything.
    server, key = limited_gateway(keyed_per_hour=5, keyed_per_minute=1_000_000)
    log_start = server.log_size()
    responses = []
    for _ in range(10):  # one at a time, each on a new connection (so either worker), every count shared
        responses.append(requests.get(server.url + QUOTE, headers={"X-API-Key": key}, timeout=30))
        counts_shared(server.url)
    served_by = {entry.pid for entry in access_entries(server.log_since(log_start))}
    assert [r.status_code for r in responses] == [200] * 5 + [429] * 5
    for response in responses[5:]:
        assert response.headers["X-Error-Code"] == "RATE_LIMIT_EXCEEDED"
        assert response.headers["X-RateLimit-Limit"] == "5" and response.headers["X-RateLimit-Remaining"] == "0"
        assert 1 <= int(response.headers["Retry-After"]) <= 3601
    assert len(served_by) == 2  # the count was shared: both workers answered


def timed(url: str, key: str) -> tuple[float, requests.Response, float]:
    """A keyed GET with the wall clock read just before it is sent and just after its answer came."""
    sent = time.time()
    response = requests.get(url, headers={"X-API-Key": key}, timeout=30)
    return sent, response, time.time()


def test_the_overshoot_across_workers_stays_within_the_documented_bound(limited_gateway):
    # 100 a minute (and an hour, so a minute boundary crossed during the test frees nothing).
    server, key = limited_gateway(keyed_per_minute=100, keyed_per_hour=100)
    # Each round of 10 concurrent requests stands for one sync interval; the workers' counts are shared
    # between rounds. A worker misses at most the other worker's hits of the round under way, so the
    # documented bound (workers × per-key rate × interval) is here at most 9 requests.
    round_size, started, answers = 10, time.monotonic(), []
    log_start = server.log_size()
    with ThreadPoolExecutor(max_workers=round_size) as pool:
        for _ in range(300 // round_size):
            answers += pool.map(lambda _: timed(server.url + QUOTE, key), range(round_size))
            counts_shared(server.url)
    elapsed = time.monotonic() - started
    served_by = {entry.pid for entry in access_entries(server.log_since(log_start))}
    accepted = sum(response.status_code == 200 for _, response, _ in answers)
    # A sliding window frees limit × elapsed / window as it slides: the hour's share of the test's duration.
    slide = math.ceil(100 * elapsed / 3600)
    assert 100 <= accepted <= 100 + (round_size - 1) + slide
    for sent, response, received in answers:
        assert response.headers["X-RateLimit-Limit"] == "100"
        if response.status_code == 200:
            continue
        assert response.status_code == 429 and response.headers["X-Error-Code"] == "RATE_LIMIT_EXCEEDED"
        assert response.json()["error"]["code"] == "RATE_LIMIT_EXCEEDED"
        assert response.headers["X-RateLimit-Remaining"] == "0"
        reset, retry_after = int(response.headers["X-RateLimit-Reset"]), int(response.headers["Retry-After"])
        # Retry-After counts from the server's moment to the reset it states, and that moment lies between
        # sending and receiving (give or take the whole seconds): bounds that hold however slow the machine is.
        assert 1 <= retry_after <= 3601 and reset - received - 1 <= retry_after <= reset - sent + 2
    assert len(served_by) == 2


def quote_answers(log: str) -> list[tuple[int, int]]:
    """(worker pid, status) of each quote request in gunicorn's access log ``log``, in order."""
    answers = []
    for line in log.splitlines():
        if '"gunicorn.access"' in line and f'"path": "{QUOTE}"' in line:
            record = json.loads(line)
            answers.append((int(record["pid"]), int(record["status"])))
    return answers


def test_a_redis_outage_gives_each_worker_its_share_and_its_end_no_fresh_allowance(limited_gateway, own_redis):
    server, key = limited_gateway(keyed_per_hour=40, keyed_per_minute=1_000_000)
    ask = lambda: requests.get(server.url + QUOTE, headers={"X-API-Key": key}, timeout=30)  # noqa: E731
    start = server.log_size()
    # Before: hits on both workers (so both know the client), all of them shared.
    eventually(lambda: ask() and len({pid for pid, _ in quote_answers(server.log_since(start))}) == 2, timeout=30)
    counts_shared(server.url)
    spent = len(quote_answers(server.log_since(start)))
    assert all(status == 200 for _, status in quote_answers(server.log_since(start)))

    outage = server.log_size()  # before the kill: the workers notice within one sync interval
    own_redis.kill()
    eventually(lambda: server.log_since(outage).count("client rate limits: Redis unreachable") == 2, timeout=30)
    for _ in range(60):
        ask()
    during = quote_answers(server.log_since(outage))
    share = (40 - spent) // 2  # each of the 2 workers: its half of what was left
    for pid in {pid for pid, _ in during}:
        statuses = [status for worker, status in during if worker == pid]
        assert set(statuses) <= {200, 429}
        assert statuses.count(200) == min(share, len(statuses)), (pid, statuses)

    recovery = server.log_size()
    own_redis.start()  # back, and empty
    eventually(lambda: server.log_since(recovery).count("client rate limits: counting on Redis again") == 2, timeout=30)
    counts_shared(server.url)
    after = []
    for _ in range(10):
        after.append(ask())
        counts_shared(server.url)
    accepted = spent + sum(status == 200 for _, status in during) + sum(r.status_code == 200 for r in after)
    assert accepted <= 40  # through the outage and the empty restart, not one request over the limit
    for refused in (r for r in after if r.status_code != 200):
        assert refused.status_code == 429 and refused.headers["X-RateLimit-Remaining"] == "0"
