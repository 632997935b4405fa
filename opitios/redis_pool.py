"""REDIS_URL → one bounded, blocking connection pool: a Redis server, or the primary that Redis Sentinel names.

``redis://``, ``rediss://`` and ``unix://`` name one server. ``redis+sentinel://``
names sentinels and a service::

    redis+sentinel://[[user]:password@]host[:port][,host[:port]...]/service[/db]

The pool then asks the sentinels where the primary is whenever it opens a
connection, and drops connections to a primary that was replaced, so every
user of the pool follows a failover without a restart. Redis Cluster is not
supported: the budget, single-flight and limiter scripts and the cache's
multi-key reads touch keys that a cluster would spread over slots.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

import redis
from redis.sentinel import Sentinel, SentinelConnectionPool

SENTINEL_SCHEME = "redis+sentinel"
SERVER_SCHEMES = ("redis", "rediss", "unix")
SENTINEL_PORT = 26379


@dataclass(frozen=True)
class SentinelAddress:
    sentinels: tuple[tuple[str, int], ...]
    service: str
    db: int = 0
    username: str | None = None
    password: str | None = None


def scheme(url: str) -> str:
    return url.partition("://")[0].lower()


def check(url: str) -> str:
    """``url`` when opitios can use it; ValueError saying what it accepts otherwise (never echoing a password)."""
    found = scheme(url) if "://" in url else ""
    if found == SENTINEL_SCHEME:
        parse_sentinel(url)
    elif found not in SERVER_SCHEMES:
        given = f"{found}://" if found else "a URL without a scheme"
        also = " (Redis Cluster is not supported)" if "cluster" in found else ""
        raise ValueError(f"must start with redis://, rediss://, unix:// or {SENTINEL_SCHEME}://, not {given}{also}")
    return url


def parse_sentinel(url: str) -> SentinelAddress:
    """The parts of ``redis+sentinel://[[user]:password@]h1[:port],h2[:port]/service[/db]``."""
    rest = url.partition("://")[2]
    where, _, path = rest.partition("/")
    credentials, _, hosts = where.rpartition("@")
    username, _, password = credentials.partition(":") if credentials else ("", "", "")
    sentinels = tuple(_host_port(part) for part in hosts.split(",") if part.strip())
    parts = [part for part in path.split("?")[0].split("/") if part]
    if not sentinels or not parts or len(parts) > 2 or (len(parts) == 2 and not parts[1].isdigit()):
        raise ValueError(f"must look like {SENTINEL_SCHEME}://host:port,host:port/service[/db]")
    return SentinelAddress(
        sentinels, unquote(parts[0]), int(parts[1]) if len(parts) == 2 else 0,
        unquote(username) or None, unquote(password) or None,
    )


def _host_port(text: str) -> tuple[str, int]:
    host, _, port = text.strip().rpartition(":") if ":" in text else (text.strip(), "", "")
    if not host or (port and not port.isdigit()):
        raise ValueError(f"{text!r} is not host:port")
    return host, int(port) if port else SENTINEL_PORT


class SentinelBlockingConnectionPool(SentinelConnectionPool, redis.BlockingConnectionPool):
    """Sentinel's pool (asks where the primary is, drops connections to a demoted one), bounded and blocking.

    redis-py's Sentinel pool grows without bound and fails past ``max_connections``; the
    blocking pool makes a caller wait for a free connection instead. The two compose:
    Sentinel's pool decides where a connection goes and whether it is still the primary's,
    the blocking pool how many there are.
    """


def connection_pool(url: str, max_connections: int, wait: float, **connection) -> redis.ConnectionPool:
    """The pool for ``url``; ``wait``: seconds to wait for a free connection; ``connection``: socket settings."""
    if scheme(url) != SENTINEL_SCHEME:
        return redis.BlockingConnectionPool.from_url(url, max_connections=max_connections, timeout=wait, **connection)
    address = parse_sentinel(url)
    auth = {"username": address.username, "password": address.password}
    sentinels = Sentinel(
        list(address.sentinels),
        # The sentinels answer within the same timeouts as Redis itself, with the same credentials.
        sentinel_kwargs={**auth, **{name: value for name, value in connection.items() if name.startswith("socket_")}},
    )
    primary = sentinels.master_for(
        address.service, connection_pool_class=SentinelBlockingConnectionPool,
        max_connections=max_connections, timeout=wait, db=address.db, **auth, **connection,
    )
    return primary.connection_pool
