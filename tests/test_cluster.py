"""Three opitios instances behind nginx on Redis Sentinel, scraped by Prometheus: one budget, one cache, one limit.

The cluster (cluster/local.py: the sandbox, a PostgreSQL database of its own, a
Redis primary, replica and three sentinels, three gunicorn instances of two
workers, nginx, Prometheus, each on a free loopback port) starts once for the
module and is stopped by pid at the end. The breaking tests come last: the
Redis primary is killed under load, then an instance. Every wait is on a
condition with a generous bound; the figures measured are printed (-s) and
kept in the README's "Scaling out".
"""

from __future__ import annotations

import json
import math
import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from cluster import database
from cluster.local import LocalCluster
from cluster.topology import INSTANCES, STREAMERS, Ports
from opitios.access.keys import create_key
from opitios.db import make_engine
from opitios.models import ApiConfiguration
from tests.limit_sync import counts_shared
from tests.steady_load import SteadyLoad, failed
from tests.waiting import eventually

pytestmark = pytest.mark.cluster

SNAPSHOTS = "/v2/stocks/snapshots"
BUDGET = 190  # upstream.requests_per_minute, the default: one budget for all six workers
KEYED_PER_MINUTE = 20
STEADY = ["AAPL", "MSFT", "SPY", "QQQ"]  # what the steady load asks for, warmed into the cache first


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    name = f"opitios_cluster_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    local = LocalCluster(
        tmp_path_factory.mktemp("cluster"), Ports.free(), database_name=name,
        config={"rate_limits": {"keyed_per_minute": KEYED_PER_MINUTE}},
    )
    try:
        local.start()
        yield local
    finally:
        local.stop()
        database.drop(name)


@pytest.fixture(scope="module")
def cluster_db(cluster):
    """The cluster's PostgreSQL database (not the suite's ``engine``, whose rows each test empties)."""
    engine = make_engine(cluster.database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def upstream(cluster):
    """The cluster's sandbox, back to its defaults: market closed (quotes fresh for 300 s), no upstream limit of its own."""
    sandbox = cluster.sandbox()
    sandbox.reset()
    # Only opitios' own budget may hold calls back; a closed market keeps the steady load's quotes fresh.
    sandbox.switches(market="closed", rate_limit_per_minute=1_000_000)
    yield sandbox
    sandbox.stop()


# --- helpers -------------------------------------------------------------------------------------


def fire(url: str, paths: list[str], concurrency: int, headers: dict | None = None, method: str = "GET", body=None):
    """All requests at once (up to ``concurrency`` in flight), each on its own connection, answers in order."""
    def one(path):
        return requests.request(method, url + path, headers=headers, json=body, timeout=60)

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        return list(pool.map(one, paths))


def log_offsets(cluster) -> dict[str, int]:
    return {name: cluster.log_size(name) for name in INSTANCES}


def served_by(cluster, offsets: dict[str, int], path: str, method: str = "GET", total: int | None = None) -> dict[str, int]:
    """How many requests for ``path`` each instance answered since ``offsets`` (its gunicorn access log), once
    the logs hold ``total`` of them: gunicorn writes an access line just after the answer has left."""
    if total is not None:
        eventually(lambda: sum(served_by(cluster, offsets, path, method).values()) >= total, timeout=30)
    served = {}
    for name, offset in offsets.items():
        lines = [line for line in cluster.log_since(name, offset).splitlines() if '"gunicorn.access"' in line]
        served[name] = sum(1 for line in lines if (entry := json.loads(line))["path"] == path and entry["method"] == method)
    return served


def instance_metrics(cluster, name: str) -> dict[str, float]:
    """Every sample of the instance's GET /metrics, added up by sample name."""
    text = requests.get(cluster.instance_url(name) + "/metrics", timeout=10).text
    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            totals[sample.name] = totals.get(sample.name, 0.0) + sample.value
    return totals


def most_in_any_window(moments: list[float], seconds: float) -> int:
    """The most of ``moments`` that fall in any window of ``seconds``."""
    moments = sorted(moments)
    most, first = 0, 0
    for last, moment in enumerate(moments):
        while moment - moments[first] >= seconds:
            first += 1
        most = max(most, last - first + 1)
    return most


def report(**figures) -> None:
    print("\nMEASURED " + " ".join(f"{name}={value}" for name, value in figures.items()))


# --- 7: Prometheus sees all three and counts every request ----------------------------------------


def test_prometheus_scrapes_all_three_instances_and_counts_every_request_sent(cluster, upstream):
    def up() -> dict[str, str]:
        return {sample["metric"]["instance"]: sample["value"][1] for sample in cluster.query('up{job="opitios"}')}

    eventually(lambda: up() == {f"127.0.0.1:{port}": "1" for port in cluster.ports.instances}, timeout=60, interval=0.5)

    def counted_by_instances() -> float:
        return sum(instance_metrics(cluster, name).get("opitios_http_request_total", 0.0) for name in INSTANCES)

    def counted_by_prometheus() -> float:
        result = cluster.query("sum(opitios_http_request_total)")
        return float(result[0]["value"][1]) if result else 0.0

    before = counted_by_instances()  # /metrics itself is not counted, so asking does not move it
    paths = ["/api/v1/stocks/AAPL/quote", "/api/v1/health", "/api/v1/stocks/MSFT/quote"] * 30
    answers = fire(cluster.url, paths, concurrency=6)
    assert [answer.status_code for answer in answers] == [200] * len(paths)
    sent_at = time.monotonic()
    eventually(lambda: counted_by_instances() == before + len(paths), timeout=30)
    eventually(lambda: counted_by_prometheus() == before + len(paths), timeout=60, interval=0.2)
    report(prometheus_caught_up_seconds=round(time.monotonic() - sent_at, 1), requests_sent=len(paths))


# --- 1: one upstream call for a hundred concurrent misses on three instances -------------------


def test_a_hundred_concurrent_misses_on_three_instances_make_one_upstream_call(cluster, upstream):
    upstream.switches(latency_ms=500, path_prefix=SNAPSHOTS)  # every request misses while the one call is out
    offsets = log_offsets(cluster)
    answers = fire(cluster.url, ["/api/v1/stocks/NVDA/quote"] * 100, concurrency=100)
    assert [answer.status_code for answer in answers] == [200] * 100
    assert upstream.count(SNAPSHOTS) == 1
    assert len({answer.json()["data"]["bid_price"] for answer in answers}) == 1
    served = served_by(cluster, offsets, "/api/v1/stocks/NVDA/quote", total=100)
    assert sum(served.values()) == 100 and all(served.values()), served


# --- 3: one client's limit across the three instances -----------------------------------------


def test_one_clients_limit_holds_across_the_three_instances(cluster, upstream, cluster_db):
    key, _ = create_key(cluster_db, "limited desk", ["read"])
    offsets = log_offsets(cluster)
    instances = [f"http://127.0.0.1:{port}" for port in cluster.instance_ports.values()]
    # Rounds of concurrent requests through nginx, the counts shared between rounds (waited for on each
    # instance's /metrics). The documented overshoot is what the other workers accept before their hits
    # reach a worker, up to two sync intervals: here at most the other requests of two rounds.
    round_size, answers, started = 6, [], time.monotonic()
    with ThreadPoolExecutor(max_workers=round_size) as pool:
        for _ in range((KEYED_PER_MINUTE + 10) // round_size + 1):
            answers += pool.map(
                lambda _: requests.get(cluster.url + "/api/v1/stocks/AAPL/quote", headers={"X-API-Key": key}, timeout=30),
                range(round_size),
            )
            counts_shared(*instances)
    elapsed = time.monotonic() - started
    statuses = [answer.status_code for answer in answers]
    assert set(statuses) <= {200, 429}
    # Past the limit the sliding window counter may also let through the share of the limit that the previous
    # minute's window loses during the run (none when no minute boundary passed).
    slide = math.ceil(KEYED_PER_MINUTE * elapsed / 60)
    assert KEYED_PER_MINUTE <= statuses.count(200) <= KEYED_PER_MINUTE + 2 * (round_size - 1) + slide
    for answer in answers:
        if answer.status_code == 429:
            assert answer.json()["error"]["code"] == "RATE_LIMIT_EXCEEDED"
            assert answer.headers["X-RateLimit-Limit"] == str(KEYED_PER_MINUTE)
            assert 1 <= int(answer.headers["Retry-After"]) <= 61
    served = served_by(cluster, offsets, "/api/v1/stocks/AAPL/quote", total=len(answers))
    assert all(served.values()), served  # the count was shared: every instance answered some
    report(client_limit=KEYED_PER_MINUTE, allowed=statuses.count(200), refused=statuses.count(429))


# --- 4: twenty identical orders on three instances, one order ----------------------------------


def test_twenty_identical_orders_spread_over_the_instances_make_one_order(cluster, upstream, cluster_db):
    key, _ = create_key(cluster_db, "racing desk", ["trade"])
    upstream.switches(latency_ms=300, path_prefix="/v2/orders")
    body = {"symbol": "AAPL", "qty": "1", "side": "buy", "type": "limit", "limit_price": "150",
            "client_order_id": "cluster-race"}
    offsets = log_offsets(cluster)
    answers = fire(cluster.url, ["/api/v1/orders"] * 20, concurrency=20, headers={"X-API-Key": key}, method="POST", body=body)
    assert [answer.status_code for answer in answers] == [200] * 20
    assert len({answer.json()["data"]["id"] for answer in answers}) == 1
    upstream.switches(latency_ms=0)
    _, _, orders = upstream.get("/v2/orders", status="all")
    assert [order["client_order_id"] for order in orders] == ["cluster-race"]
    served = served_by(cluster, offsets, "/api/v1/orders", method="POST", total=20)
    assert all(served.values()), served
    report(orders_placed=len(orders), order_posts=20)


# --- 2: a thousand requests over five hundred symbols, one budget --------------------------------


@pytest.fixture
def full_budget(cluster):
    """The shared bucket (a key in the cluster's own Redis) full before the test, which spends it, and after."""
    cluster.redis.on_primary(lambda client: client.delete("opitios:v1:budget"))
    yield
    cluster.redis.on_primary(lambda client: client.delete("opitios:v1:budget"))


def test_one_streamer_of_three_is_connected_and_a_killed_holder_is_replaced(cluster, upstream):
    def holder() -> str | None:
        """The streamer that holds the lease, by the pid its report (readiness, from Redis) names."""
        report = requests.get(f"{cluster.url}/api/v1/health/ready", timeout=30).json()["data"]["stream"]
        pid = int(report["holder"].split(":")[1]) if report.get("holder") else None
        return next((name for name in STREAMERS if pid is not None and cluster.processes.pid(name) == pid), None)

    first = eventually(lambda: cluster.stream_connections() == 1 and holder(), timeout=60)
    cluster.processes.kill(first)  # SIGKILL: it gives nothing back, its lease has to run out
    second = eventually(lambda: cluster.stream_connections() == 1 and holder() not in (None, first) and holder(),
                        timeout=60, interval=0.1)
    errors = upstream.stream()["errors"]
    assert errors.get("406", 0) == 0  # never a second connection while the holder held the lease
    report(stream_holder_killed=first, taken_over_by=second, refused_406=errors.get("406", 0))


def test_a_thousand_requests_over_five_hundred_symbols_stay_within_the_one_budget(cluster, upstream, full_budget):
    symbols = [f"S{number}" for number in range(500)]
    answers = fire(cluster.url, [f"/api/v1/stocks/{symbol}/quote" for symbol in symbols * 2], concurrency=32)
    calls = [call["at"] for call in upstream.calls()["log"]]
    assert calls, "no upstream call at all"
    most = most_in_any_window(calls, 60)
    assert most <= BUDGET
    outcomes: dict[int, int] = {}
    for answer in answers:
        body = answer.json()
        outcomes[answer.status_code] = outcomes.get(answer.status_code, 0) + 1
        if answer.status_code in (429, 503):
            assert body["error"]["code"] in ("UPSTREAM_RATE_LIMITED", "UPSTREAM_SERVICE_ERROR"), body
            assert int(answer.headers["Retry-After"]) >= 1
        else:
            # Real answers only: these symbols are unknown upstream, so the upstream's "no data", cached.
            assert answer.status_code == 404 and body["error"]["code"] == "SYMBOL_NOT_FOUND", body
    assert outcomes.get(429, 0) > 0 and outcomes.get(404, 0) > 0
    report(upstream_calls=len(calls), most_calls_in_60s=most, budget=BUDGET, answers=outcomes,
           seconds=round(max(calls) - min(calls), 1))


# --- 5: the Redis primary is killed under steady load ---------------------------------------------


def test_killing_the_redis_primary_under_load_fails_no_request_and_loses_no_row(cluster, upstream, cluster_db):
    key, _ = create_key(cluster_db, "failover desk", ["read", "trade"])
    keyed = {"X-API-Key": key}
    order = requests.post(cluster.url + "/api/v1/orders", headers=keyed, timeout=30, json={
        "symbol": "MSFT", "qty": "1", "side": "buy", "type": "limit", "limit_price": "100", "client_order_id": "before-failover",
    })
    assert order.status_code == 200
    with cluster_db.connect() as connection:
        rows_before = dict(connection.execute(select(ApiConfiguration.name, ApiConfiguration.config)).all())
    urls = [f"{cluster.url}/api/v1/stocks/{symbol}/quote" for symbol in STEADY]
    for url in urls:
        assert requests.get(url, timeout=30).status_code == 200  # in the shared cache before the crash

    with SteadyLoad(urls) as load:
        eventually(lambda: load.count() >= 100, timeout=60)
        noticed_before = {name: instance_metrics(cluster, name).get("opitios_redis_failures_total", 0.0) for name in INSTANCES}
        killed_at = time.monotonic()
        killed = cluster.redis.kill_primary()
        eventually(lambda: cluster.redis.primary_name() not in (killed, None), timeout=120, interval=0.1)
        promoted_after = time.monotonic() - killed_at

        def back_on_shared_state(name: str) -> bool:
            metrics = instance_metrics(cluster, name)
            return metrics.get("opitios_redis_failures_total", 0.0) > noticed_before[name] and not metrics.get(
                "opitios_cache_degraded", 1.0
            )

        eventually(lambda: all(back_on_shared_state(name) for name in INSTANCES), timeout=120, interval=0.2)
        recovered_after = time.monotonic() - killed_at
        answers = load.since(killed_at)
    during = [answer for answer in answers if answer.at <= killed_at + recovered_after]
    refused = [answer for answer in during if answer.status == 429]
    report(failover_5xx=len(failed(answers)), requests_during_failover=len(during), budget_429_during_failover=len(refused),
           sentinel_promoted_seconds=round(promoted_after, 1), back_on_shared_state_seconds=round(recovered_after, 1),
           failures=[answer.error for answer in failed(answers)])
    assert failed(load.answers) == []
    # Served (from the L1, the worker's own cache or the upstream), or an honest 429: while Redis is away a
    # worker spends only its share of what the shared budget had left when it last saw it, which is nothing
    # for a worker that had only answered from the cache, so that the budget holds through the outage.
    assert {answer.status for answer in load.answers} <= {200, 429}

    # Shared again: a new key is written to the new primary, and the replicated cache is read from it.
    assert requests.get(f"{cluster.url}/api/v1/stocks/KO/quote", timeout=30).status_code == 200
    assert cluster.redis.on_primary(lambda client: client.exists("opitios:v1:quote:stock:KO:iex")) == 1
    # What lives in PostgreSQL or at the broker is untouched: the key, the order, the configuration rows.
    orders = requests.get(cluster.url + "/api/v1/orders?status=all", headers=keyed, timeout=30)
    assert orders.status_code == 200
    assert [o["client_order_id"] for o in orders.json()["data"]["orders"]] == ["before-failover"]
    with cluster_db.connect() as connection:
        assert dict(connection.execute(select(ApiConfiguration.name, ApiConfiguration.config)).all()) == rows_before


# --- 6: an instance is killed under load -----------------------------------------------------------


def test_nginx_routes_around_an_instance_killed_under_load(cluster, upstream):
    urls = [f"{cluster.url}/api/v1/stocks/{symbol}/quote" for symbol in STEADY]
    for url in urls:
        assert requests.get(url, timeout=30).status_code == 200
    victim = INSTANCES[1]
    refused = "connect() failed (111: Connection refused) while connecting to upstream"
    dead = f"127.0.0.1:{cluster.instance_ports[victim]}"

    def nginx_met_the_dead_instance() -> int:
        errors = (cluster.run_dir / "nginx-error.log").read_text().splitlines()
        return sum(1 for line in errors if refused in line and dead in line)

    with SteadyLoad(urls) as load:
        eventually(lambda: load.count() >= 100, timeout=60)
        killed_at = time.monotonic()
        offsets = log_offsets(cluster)
        cluster.kill_instance(victim)
        # nginx meets the dead instance, takes it out for fail_timeout, then tries it again (and meets it again).
        eventually(lambda: nginx_met_the_dead_instance() >= 2, timeout=120, interval=0.2)
    answers = load.since(killed_at)
    in_flight = [answer for answer in answers if answer.sent < killed_at]
    served = served_by(cluster, offsets, "/api/v1/stocks/AAPL/quote")
    report(instance_killed=victim, requests_after_kill=len(answers), in_flight_at_kill=len(in_flight),
           failed_in_flight=len(failed(in_flight)), failed_after_kill=len(failed(answers)) - len(failed(in_flight)),
           failures=[answer.error for answer in failed(answers)])
    # nginx sends a request that met the dead instance to the next one; only an answer the dead instance had
    # begun to send cannot be taken back, so a failure may only be among the requests in flight at the kill.
    assert [answer for answer in failed(answers) if answer.sent >= killed_at] == []
    assert served[INSTANCES[0]] and served[INSTANCES[2]]
