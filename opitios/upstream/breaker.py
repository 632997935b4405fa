"""The circuit breaker: state in Redis, shared by every worker and instance, or per worker.

Consecutive upstream outages (5xx, unreachable, timeouts, unreadable bodies)
open it; while open no upstream call is made. After the open period it is
half-open: exactly one probe goes through, claimed like a cache miss (a Redis
key set NX with a lease, so across all workers and instances; within the
worker while Redis is away), and every other request is refused as if open.
The probe is one attempt, without retries; it closes the circuit or opens it
for another period.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from opitios import metrics
from opitios.shared_redis import SharedRedis
from opitios.upstream.budget import BudgetSpent
from opitios.upstream.flight import SingleFlight
from providers.base import UpstreamInvalidResponse, UpstreamServiceError, UpstreamTimeout

PROBE = "circuit:probe"  # the single-flight key a probe claims
OUTAGES = (UpstreamServiceError, UpstreamTimeout, UpstreamInvalidResponse)
STATES = {"closed": 0, "half-open": 1, "open": 2}
T = TypeVar("T")

# KEYS[1] the hash; ARGV: failures that open it, now. One more outage; opens it at the threshold.
_FAILED = """
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
if failures >= tonumber(ARGV[1]) and redis.call('HSETNX', KEYS[1], 'opened_at', ARGV[2]) == 1 then return 1 end
return 0
"""
# A success of a call made while closed ends a run of outages, unless that run has opened it meanwhile.
_SUCCEEDED = """
if redis.call('HEXISTS', KEYS[1], 'opened_at') == 0 then redis.call('HDEL', KEYS[1], 'failures') end
return 1
"""


class CircuitOpen(UpstreamServiceError):
    """The circuit is open (or another request is probing): the upstream is not asked."""


@dataclass(frozen=True)
class Reading:
    failures: int = 0
    opened_at: float | None = None

    def state(self, now: float, open_seconds: float) -> str:
        if self.opened_at is None:
            return "closed"
        return "open" if now < self.opened_at + open_seconds else "half-open"


class _RedisState:
    def __init__(self, shared: SharedRedis):
        self._client = shared.client
        self._key = shared.key("circuit")  # a hash: failures (consecutive outages), opened_at (epoch seconds)
        self._failed = self._client.register_script(_FAILED)
        self._succeeded = self._client.register_script(_SUCCEEDED)

    def read(self) -> Reading:
        failures, opened_at = self._client.hmget(self._key, "failures", "opened_at")
        return Reading(int(failures or 0), float(opened_at) if opened_at is not None else None)

    def failed(self, threshold: int, now: float) -> bool:
        return self._failed(keys=[self._key], args=[threshold, repr(now)]) == 1

    def succeeded(self) -> None:
        self._succeeded(keys=[self._key])

    def opened(self, now: float) -> None:
        self._client.hset(self._key, "opened_at", repr(now))

    def closed(self) -> None:
        self._client.delete(self._key)


class _LocalState:
    """The same, for one worker."""

    def __init__(self):
        self._lock = threading.Lock()
        self._reading = Reading()

    def read(self) -> Reading:
        return self._reading

    def failed(self, threshold: int, now: float) -> bool:
        with self._lock:
            failures = self._reading.failures + 1
            opens = failures >= threshold and self._reading.opened_at is None
            self._reading = Reading(failures, now if opens else self._reading.opened_at)
            return opens

    def succeeded(self) -> None:
        with self._lock:
            if self._reading.opened_at is None:
                self._reading = Reading()

    def opened(self, now: float) -> None:
        with self._lock:
            self._reading = Reading(self._reading.failures, now)

    def closed(self) -> None:
        with self._lock:
            self._reading = Reading()


class Circuit:
    """Consecutive outages open it; after the open period one probe, claimed across workers, decides."""

    def __init__(
        self,
        shared: SharedRedis | None,
        flight: SingleFlight,
        settings: Callable[[], Mapping],
        clock: Callable[[], float] = time.time,
    ):
        self._shared = shared
        self._flight = flight  # claims the probe
        self._settings = settings  # the runtime `upstream` section: circuit_failures, circuit_open_seconds
        self.clock = clock  # wall-clock seconds (compared across instances); tests move one by hand
        self._local = _LocalState()
        self._redis = _RedisState(shared) if shared is not None else None

    def _do(self, operation: Callable[[_RedisState | _LocalState], T]) -> T:
        """``operation`` on the shared state, or on this worker's while Redis is away."""
        if self._redis is None:
            return operation(self._local)
        return self._shared.run(lambda: operation(self._redis), lambda: operation(self._local))

    def call(self, function: Callable[[bool], T]) -> T:
        """``function(probing)`` unless the circuit is open; ``probing`` is true for the half-open probe."""
        settings = self._settings()
        failures, open_seconds = settings["circuit_failures"], settings["circuit_open_seconds"]
        now = self.clock()
        reading = self._do(lambda store: store.read())
        state = reading.state(now, open_seconds)
        if state == "open":
            raise self._refusal(math.ceil(reading.opened_at + open_seconds - now))
        token, owned = self._flight.claim([PROBE]) if state == "half-open" else ("", set())
        if state == "half-open" and not owned:
            raise self._refusal(1)  # another request is probing; its outcome comes within the lease
        probing = bool(owned)
        try:
            if probing:
                metrics.CIRCUIT_TRANSITIONS.labels(state="half-open").inc()
            result = function(probing)
        except OUTAGES:
            if probing:
                self._do(lambda store: store.opened(self.clock()))
                metrics.CIRCUIT_TRANSITIONS.labels(state="open").inc()
            elif self._do(lambda store: store.failed(failures, self.clock())):
                metrics.CIRCUIT_TRANSITIONS.labels(state="open").inc()
            raise
        except BudgetSpent:
            raise  # the upstream was not asked: it says nothing either way (a probe's claim is released below)
        except Exception:
            # Not an outage (a 401, a 429, a refused parameter): the upstream answered.
            self._answered(probing, reading)
            raise
        else:
            self._answered(probing, reading)
            return result
        finally:
            if probing:
                self._flight.release(token, owned)

    def _answered(self, probing: bool, reading: Reading) -> None:
        if probing:
            self._do(lambda store: store.closed())
            metrics.CIRCUIT_TRANSITIONS.labels(state="closed").inc()
        elif reading.failures:
            self._do(lambda store: store.succeeded())

    @staticmethod
    def _refusal(retry_after: int) -> CircuitOpen:
        return CircuitOpen(
            "The upstream is failing; opitios is not calling it for now (circuit open)", retry_after=max(1, retry_after)
        )

    def state(self) -> str:
        """``closed``, ``half-open`` or ``open``, as this worker sees it."""
        open_seconds = self._settings()["circuit_open_seconds"]
        return self._do(lambda store: store.read()).state(self.clock(), open_seconds)

    def state_number(self) -> int:
        return STATES[self.state()]
