"""Across two gunicorn workers sharing Redis: one upstream call per cold key, one budget, one order.

Client limits across workers: tests/test_synced_counts.py.
"""

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from harness.database import migrated_sqlite
from harness.servers import GunicornServer, access_entries
from opitios.access.keys import create_key
from opitios.db import make_engine

SNAPSHOTS = "/v2/stocks/snapshots"


@pytest.fixture
def gateway(sandbox, redis_url, tmp_path):
    """opitios under gunicorn with 2 gevent workers, the sandbox upstream and the machine's Redis."""
    # Market data open to anonymous clients, at no practical client limit: these tests are about the upstream.
    database = migrated_sqlite(tmp_path, "gateway.db")
    env = {**sandbox.gateway_env(), "DATABASE_URL": database, "REDIS_URL": redis_url}
    server = GunicornServer("wsgi:app", workers=2, env=env).start()
    sandbox.reset()  # readiness probes are not part of what the tests count
    yield server
    server.stop()
    server.remove_log()


def fire(url: str, paths: list[str], concurrency: int, headers: dict | None = None) -> list[requests.Response]:
    """All requests at once (up to ``concurrency`` in flight), each on its own connection, answers in order."""
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        return list(pool.map(lambda path: requests.get(url + path, headers=headers, timeout=30), paths))


def test_a_hundred_concurrent_misses_across_workers_make_one_upstream_call(gateway, sandbox):
    sandbox.switches(latency_ms=500, path_prefix=SNAPSHOTS)  # long enough for every request to miss at once
    log_start = gateway.log_size()
    responses = fire(gateway.url, ["/api/v1/stocks/NVDA/quote"] * 100, concurrency=100)
    assert [r.status_code for r in responses] == [200] * 100
    assert sandbox.count(SNAPSHOTS) == 1
    assert len({r.json()["data"]["bid_price"] for r in responses}) == 1
    served_by = {entry.pid for entry in access_entries(gateway.log_since(log_start))}
    assert len(served_by) == 2  # both workers took part


def test_a_thousand_requests_over_five_hundred_symbols_stay_within_the_budget(gateway, sandbox):
    symbols = [f"S{number}" for number in range(500)]
    paths = [f"/api/v1/stocks/{symbol}/quote" for symbol in symbols * 2]
    responses = fire(gateway.url, paths, concurrency=32)
    assert sandbox.count() <= 190  # the default budget per minute, for both workers together
    outcomes = {}
    for response in responses:
        body = response.json()
        if response.status_code == 429:
            assert body["error"]["code"] == "UPSTREAM_RATE_LIMITED" and int(response.headers["Retry-After"]) >= 1
        else:
            # Real answers only: these symbols are unknown upstream, so the upstream's "no data".
            assert response.status_code == 404 and body["error"]["code"] == "SYMBOL_NOT_FOUND"
        outcomes[response.status_code] = outcomes.get(response.status_code, 0) + 1
    assert outcomes.get(429, 0) > 0 and outcomes.get(404, 0) > 0


def test_twenty_identical_orders_racing_across_workers_make_one_order(gateway, sandbox, tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'gateway.db'}")  # the gateway's own database
    key, _ = create_key(engine, "racing desk", ["trade"])
    engine.dispose()
    sandbox.switches(latency_ms=300, path_prefix="/v2/orders")
    body = {"symbol": "AAPL", "qty": "1", "side": "buy", "type": "limit", "limit_price": "150", "client_order_id": "race-across"}
    log_start = gateway.log_size()
    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(
            lambda _: requests.post(gateway.url + "/api/v1/orders", json=body, headers={"X-API-Key": key}, timeout=30),
            range(20),
        ))
    assert [a.status_code for a in answers] == [200] * 20
    assert len({a.json()["data"]["id"] for a in answers}) == 1
    sandbox.switches(latency_ms=0)
    _, _, orders = sandbox.get("/v2/orders", status="all")
    assert len(orders) == 1
    assert len({entry.pid for entry in access_entries(gateway.log_since(log_start))}) == 2
