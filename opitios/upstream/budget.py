"""The upstream request budget: one token bucket for every worker and instance (Redis), or per worker.

The bucket holds a quarter of the per-minute budget as a burst and refills
the rest over the minute, so no rolling minute ever sees more than
``requests_per_minute`` upstream calls. An upstream 429 empties it until the
upstream's own reset time.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

from opitios.shared_redis import SharedRedis

# KEYS[1] bucket; ARGV: burst, refill per second, tokens wanted, tokens to leave for others.
# Returns {granted, wait ms, tokens left}.
_TAKE = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + math.floor(tonumber(now_parts[2]) / 1000)
local burst, rate, wanted, reserve = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at', 'blocked')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
local blocked = tonumber(state[3]) or 0
if now < blocked then return {0, blocked - now, 0} end
tokens = math.min(burst, tokens + (now - at) / 1000 * rate)
local granted, wait = 0, 0
if tokens >= wanted + reserve then
  tokens = tokens - wanted
  granted = 1
else
  wait = math.ceil((wanted - tokens) / rate * 1000)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], 120000)
return {granted, wait, math.floor(tokens)}
"""

# KEYS[1] bucket; ARGV[1] seconds until the upstream's window resets.
_DRAIN = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000
local blocked = now + tonumber(ARGV[1]) * 1000
redis.call('HSET', KEYS[1], 'tokens', '0', 'at', now, 'blocked', blocked)
redis.call('PEXPIRE', KEYS[1], math.max(120000, tonumber(ARGV[1]) * 1000 + 60000))
return 1
"""


def shape(per_minute: int) -> tuple[float, float]:
    """(burst, refill per second) so that any 60 s window allows at most ``per_minute`` calls."""
    burst = max(1, per_minute // 4)
    return float(burst), max(per_minute - burst, 1) / 60.0


@dataclass(frozen=True)
class Grant:
    granted: bool
    retry_after: int  # seconds, when not granted
    remaining: int = 0  # whole tokens left after this take


class LocalBucket:
    """The same bucket, for one worker."""

    def __init__(self):
        self._lock = threading.Lock()
        self._tokens: float | None = None
        self._at = time.monotonic()
        self._blocked_until = 0.0

    def take(self, burst: float, rate: float, reserve: float = 0) -> Grant:
        with self._lock:
            now = time.monotonic()
            if now < self._blocked_until:
                return Grant(False, math.ceil(self._blocked_until - now), 0)
            tokens = burst if self._tokens is None else min(burst, self._tokens + (now - self._at) * rate)
            self._at = now
            if tokens >= 1 + reserve:
                self._tokens = tokens - 1
                return Grant(True, 0, int(self._tokens))
            self._tokens = tokens
            return Grant(False, max(1, math.ceil((1 - tokens) / rate)), 0)

    def drain(self, seconds: int) -> None:
        with self._lock:
            self._tokens, self._at = 0.0, time.monotonic()
            self._blocked_until = self._at + seconds


class UpstreamBudget:
    """Takes one token per upstream call; Redis-wide when shared, a worker's conservative share otherwise."""

    def __init__(self, shared: SharedRedis | None, workers: int):
        self._shared = shared
        self._workers = max(1, workers)
        self._local = LocalBucket()
        if shared is not None:
            self._key = shared.key("budget")
            self._take_script = shared.client.register_script(_TAKE)
            self._drain_script = shared.client.register_script(_DRAIN)

    def take(self, per_minute: int, reserve_share: float = 0.0) -> Grant:
        """One token; with ``reserve_share``, only while that share of the burst stays for others."""
        burst, rate = shape(per_minute)
        if self._shared is None:
            return self._local.take(burst, rate, burst * reserve_share)
        # While Redis is away each worker may spend only its share of the budget.
        local_burst, local_rate = shape(max(1, per_minute // self._workers))
        return self._shared.run(
            lambda: self._from_script(self._take_script(keys=[self._key], args=[burst, rate, 1, burst * reserve_share])),
            lambda: self._local.take(local_burst, local_rate, local_burst * reserve_share),
        )

    @staticmethod
    def _from_script(result) -> Grant:
        granted, wait_ms, left = (int(value) for value in result)
        return Grant(granted == 1, 0 if granted else max(1, math.ceil(wait_ms / 1000)), left)

    def drain(self, seconds: int) -> None:
        """The upstream said 429: spend nothing more until its window resets."""
        self._local.drain(seconds)
        if self._shared is not None:
            self._shared.run(lambda: self._drain_script(keys=[self._key], args=[seconds]), lambda: None)
