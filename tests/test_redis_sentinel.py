"""REDIS_URL naming Redis Sentinel: all shared state lives on the primary the sentinels name, and follows a failover.

The servers are a primary, a replica and three sentinels of the test's own
(redis-server on free loopback ports), stopped by pid at the end.
"""

import pytest

from cluster.processes import Processes
from cluster.redis_set import RedisSet
from cluster.topology import Ports
from opitios import extensions
from opitios.config import ConfigError, settings_from_env
from opitios.redis_pool import parse_sentinel
from tests.waiting import eventually


@pytest.fixture
def redis_set(tmp_path):
    ports = Ports.free()
    processes = Processes(tmp_path)
    servers = RedisSet(processes, tmp_path, ports.redis_primary, ports.redis_replica, ports.sentinels)
    try:
        servers.start()
        yield servers
    finally:
        processes.stop_all()


def ours(servers, prefix) -> set[str]:
    return {key.decode() for key in servers.on_primary(lambda client: client.keys(f"*{prefix}:*"))}


def test_every_shared_structure_is_on_the_primary_and_follows_a_failover_without_a_restart(
    redis_set, sandbox, make_app, redis_prefix
):
    sandbox.switches(market="closed")  # quotes stay fresh for 300 s, however long the failover takes
    app = make_app(REDIS_URL=redis_set.url())
    client = app.test_client()
    first = client.get("/api/v1/stocks/AAPL/quote")
    assert first.status_code == 200 and first.json["metadata"]["cache"] == "miss"
    # The client's limit count reaches Redis with the worker's next sync.
    def synced():
        found = ours(redis_set, redis_prefix)
        return found if any(f"{redis_prefix}:v1:limits" in key for key in found) else None

    keys = eventually(synced)
    # The cache entry, the upstream budget and the client's rate-limit counter (the limiter's storage, through the same pool).
    assert f"{redis_prefix}:v1:quote:stock:AAPL:iex" in keys
    assert f"{redis_prefix}:v1:budget" in keys
    assert any(f"{redis_prefix}:v1:limits" in key for key in keys)

    killed = redis_set.kill_primary()
    promoted = eventually(lambda: redis_set.primary_name() != killed and redis_set.primary_name(), timeout=60)
    assert promoted == "redis-replica"

    # The same app, not restarted: once it has noticed, it writes to the new primary and reads what was replicated.
    def back_on_shared_state():
        answer = client.get("/api/v1/stocks/MSFT/quote")
        assert answer.status_code == 200, answer.json
        return extensions.of(app).redis.state == "ok" and f"{redis_prefix}:v1:quote:stock:MSFT:iex" in ours(
            redis_set, redis_prefix
        )

    eventually(back_on_shared_state, timeout=60, interval=0.2)
    again = client.get("/api/v1/stocks/AAPL/quote")
    assert again.status_code == 200 and again.json["metadata"]["cache"] == "hit"  # replicated before the crash


def test_a_sentinel_url_is_read_with_its_service_database_and_credentials():
    address = parse_sentinel("redis+sentinel://app:p%40ss@10.0.0.1:26380,10.0.0.2/cache/3")
    assert address.sentinels == (("10.0.0.1", 26380), ("10.0.0.2", 26379))
    assert (address.service, address.db, address.username, address.password) == ("cache", 3, "app", "p@ss")
    assert parse_sentinel("redis+sentinel://h/svc").db == 0


@pytest.mark.parametrize(
    "url, says",
    [
        ("redis+sentinel://h1:26379,h2:26379", "service"),
        ("redis+sentinel://h1:x/svc", "host:port"),
        ("redis+sentinel://:secret@h1/svc/0/extra", "service"),
        ("redis+cluster://:secret@h1:7000", "Redis Cluster is not supported"),
        ("memcached://h1", "redis://"),
    ],
)
def test_an_unusable_redis_url_stops_the_start_without_echoing_a_password(url, says):
    with pytest.raises(ConfigError, match="REDIS_URL") as refused:
        settings_from_env({"REDIS_URL": url})
    assert says in str(refused.value) and "secret" not in str(refused.value)
