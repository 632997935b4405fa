"""The circuit breaker (pybreaker): state in Redis, shared by every worker and instance, or per worker.

Consecutive upstream outages (5xx, unreachable, timeouts, unreadable bodies)
open it; while open no upstream call is made; after the open period one
probe goes through (half-open) and its outcome closes or re-opens it.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone

import pybreaker
from redis import RedisError

from opitios import metrics
from opitios.shared_redis import SharedRedis
from providers.base import UpstreamInvalidResponse, UpstreamServiceError, UpstreamTimeout

OUTAGES = (UpstreamServiceError, UpstreamTimeout, UpstreamInvalidResponse)
STATES = {pybreaker.STATE_CLOSED: 0, pybreaker.STATE_HALF_OPEN: 1, pybreaker.STATE_OPEN: 2}


def _not_an_outage(error: BaseException) -> bool:
    # A 401, a 429 or a refused parameter says nothing about the upstream being down.
    return not isinstance(error, OUTAGES)


class _CountTransitions(pybreaker.CircuitBreakerListener):
    def state_change(self, breaker, old, new) -> None:
        metrics.CIRCUIT_TRANSITIONS.labels(state=new.name).inc()


def _breaker(storage: pybreaker.CircuitBreakerStorage | None) -> pybreaker.CircuitBreaker:
    return pybreaker.CircuitBreaker(
        fail_max=5, reset_timeout=60, exclude=[_not_an_outage], state_storage=storage, throw_new_error_on_trip=False,
        listeners=[_CountTransitions()],
    )


class CircuitOpen(UpstreamServiceError):
    """The circuit is open: the upstream is not asked."""


class Circuit:
    """A pybreaker breaker whose state lives in Redis when it can, in the worker when it cannot."""

    def __init__(self, shared: SharedRedis | None):
        self._shared = shared
        self._local = _breaker(None)
        self._redis: pybreaker.CircuitBreaker | None = None

    def _shared_breaker(self) -> pybreaker.CircuitBreaker:
        if self._redis is None:  # built on first use: its storage talks to Redis as it is made
            storage = pybreaker.CircuitRedisStorage(pybreaker.STATE_CLOSED, self._shared.client, namespace=self._shared.key("circuit"))
            self._redis = _breaker(storage)
        return self._redis

    def _current(self) -> pybreaker.CircuitBreaker:
        if self._shared is None:
            return self._local
        return self._shared.run(self._probe, lambda: self._local)

    def _probe(self) -> pybreaker.CircuitBreaker:
        breaker = self._shared_breaker()
        self._shared.client.ping()  # pybreaker hides Redis errors; ask once so an outage is noticed
        return breaker

    def call(self, function, *, failures: int, open_seconds: int):
        breaker = self._current()
        breaker.fail_max, breaker.reset_timeout = failures, open_seconds
        try:
            # pybreaker's own call() holds the breaker's lock for the whole upstream call, which
            # would make a worker's upstream calls queue behind each other; only the state is
            # read under the lock (so a half-open breaker may let a few probes through at once).
            with breaker._lock:
                state = breaker.state
            return state.call(function)
        except pybreaker.CircuitBreakerError:
            raise CircuitOpen(
                "The upstream is failing; opitios is not calling it for now (circuit open)",
                retry_after=self.retry_after(breaker, open_seconds),
            ) from None

    @staticmethod
    def retry_after(breaker: pybreaker.CircuitBreaker, open_seconds: int) -> int:
        try:
            opened = breaker._state_storage.opened_at
        except (RedisError, AttributeError):
            opened = None
        if opened is None:
            return open_seconds
        if opened.tzinfo is None:
            opened = opened.replace(tzinfo=timezone.utc)
        elapsed = (datetime.now(timezone.utc) - opened).total_seconds()
        return max(1, math.ceil(open_seconds - elapsed))

    def state_number(self) -> int:
        return STATES.get(self.state(), 0)

    def state(self) -> str:
        """``closed``, ``half-open`` or ``open``, as this worker sees it."""
        try:
            return self._current().current_state
        except RedisError:
            return self._local.current_state
