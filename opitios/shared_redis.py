"""The Redis that workers and instances share, and what to do while it is away.

Every shared structure (cache, single-flight locks, upstream budget, circuit
state) goes through ``SharedRedis.run``: a Redis failure switches this worker
to its local stand-ins for ``RETRY_SECONDS``, logs the change once, and the
first success after that switches it back. Nothing waits long on a dead
Redis: connections and commands time out in half a second. ``REDIS_URL`` may
name Redis Sentinel (see ``opitios.redis_pool``): then every user of this client
follows a failover to the new primary by itself.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import redis

from opitios import metrics
from opitios.redis_pool import connection_pool, scheme

log = logging.getLogger(__name__)

RETRY_SECONDS = 2.0
SOCKET_TIMEOUT = 0.5
POOL_WAIT = 2.0  # a busy pool is not an outage: wait longer for a free connection than for a reply
T = TypeVar("T")


class SharedRedis:
    """A Redis client with a bounded, blocking connection pool, and this worker's view of its health."""

    def __init__(self, url: str, max_connections: int, prefix: str = "opitios"):
        # A blocking pool waits for a free connection instead of failing past its size.
        pool = connection_pool(
            url, max_connections, POOL_WAIT, socket_timeout=SOCKET_TIMEOUT, socket_connect_timeout=SOCKET_TIMEOUT
        )
        self.client = redis.Redis(connection_pool=pool)
        self.url = url
        # For a library that takes a URI and a pool (limits): given the pool, it reads only the URI's
        # scheme to pick its Redis storage, and the pool (Sentinel's included) knows the servers.
        self.pool_uri = url if scheme(url) in ("redis", "rediss") else "redis://"
        # Versioned, so a deploy that changes what a key holds moves to v2 instead of misreading v1.
        self.namespace = f"{prefix}:v1:"
        self.state = "ok"
        self.failures = 0
        self._retry_at = 0.0
        self._lock = threading.Lock()

    def key(self, name: str) -> str:
        """The Redis key for ``name`` under this deployment's namespace."""
        return self.namespace + name

    def usable(self) -> bool:
        return self.state == "ok" or time.monotonic() >= self._retry_at

    def run(self, shared: Callable[[], T], local: Callable[[], T]) -> T:
        """``shared()`` on Redis, or ``local()`` while Redis is (or just went) away."""
        if not self.usable():
            return local()
        try:
            result = shared()
        except redis.RedisError as error:
            self._failed(error)
            return local()
        if self.state != "ok":
            with self._lock:
                if self.state != "ok":
                    self.state = "ok"
                    metrics.CACHE_DEGRADED.set(0)
                    log.warning("redis is back: shared cache, locks, budget and circuit state resume")
        return result

    def _failed(self, error: redis.RedisError) -> None:
        with self._lock:
            self.failures += 1
            metrics.REDIS_FAILURES.inc()
            self._retry_at = time.monotonic() + RETRY_SECONDS
            if self.state == "ok":
                self.state = "degraded"
                metrics.CACHE_DEGRADED.set(1)
                log.error(
                    "redis unavailable (%s): serving from this worker's own cache, locks and budget share",
                    error.__class__.__name__,
                )

    def close(self) -> None:
        self.client.connection_pool.disconnect()
