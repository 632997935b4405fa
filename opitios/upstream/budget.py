"""The upstream request budget: one token bucket for every worker and instance (Redis), or per worker.

The bucket holds a quarter of the per-minute budget as a burst and refills
the rest over the minute, so no rolling minute ever sees more than
``requests_per_minute`` upstream calls. An upstream 429 empties it until the
upstream's own reset time.

Through a Redis outage the bucket stays one bucket, so the bound holds across
it: each worker goes on with its share (1/workers of the burst and of the
refill) of what the shared bucket had left when it last saw it (nothing, if
it never saw it), not with a full burst; on its way back it takes what it
spent meanwhile out of the shared bucket. A shared bucket that Redis lost is
rebuilt by the first worker back from its own level, counting every worker
at that level, and each worker that comes back later puts its own level in
place of that guess; never from a full burst.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

from redis import RedisError

from opitios.shared_redis import SharedRedis
from providers.base import UpstreamRateLimited

# KEYS[1] bucket; ARGV: burst, refill per second, tokens wanted, tokens to leave for others, then for a
# worker back from its own bucket (ARGV[5] = 1): the level of its own bucket, what it spent from it,
# the number of workers, and the Redis time of its last take here (0: none).
# Returns {granted, wait ms, tokens left (as text: Redis would truncate a number), Redis time ms}.
_TAKE = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + math.floor(tonumber(now_parts[2]) / 1000)
local burst, rate, wanted, reserve = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local back, own, spent = ARGV[5] == '1', tonumber(ARGV[6]), tonumber(ARGV[7])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at', 'blocked', 'assumed', 'reborn')
local blocked = tonumber(state[3]) or 0
if now < blocked then return {0, blocked - now, '0', now} end
local tokens = burst
if not state[1] and back then
  -- Redis lost the bucket while workers spent from their own: rebuild it from this worker's level,
  -- counting every worker at that level until each comes back with its own.
  tokens = math.min(burst, math.max(0, own) * tonumber(ARGV[8]))
  redis.call('HSET', KEYS[1], 'assumed', tostring(own), 'reborn', now)
elseif state[1] then
  tokens = math.min(burst, tonumber(state[1]) + (now - tonumber(state[2])) / 1000 * rate)
  if back and state[5] and tonumber(state[5]) > tonumber(ARGV[9]) then
    tokens = tokens + own - tonumber(state[4])  -- rebuilt while this worker was away: correct its count
  elseif back then
    tokens = tokens - spent  -- may go below zero: paid back by waiting, as if spent here
  end
end
local granted, wait = 0, 0
if tokens >= wanted + reserve then
  tokens = tokens - wanted
  granted = 1
else
  wait = math.ceil((wanted - tokens) / rate * 1000)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], 120000)
return {granted, wait, tostring(tokens), now}
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


class BudgetSpent(UpstreamRateLimited):
    """opitios' own budget for the upstream is spent: the upstream is not asked."""


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

    def seed(self, tokens: float) -> None:
        """Start from ``tokens`` now, instead of a full burst."""
        with self._lock:
            self._tokens, self._at = tokens, time.monotonic()

    def level(self, burst: float, rate: float) -> float:
        """The tokens it holds now, refill included (a full burst if never used)."""
        with self._lock:
            if self._tokens is None:
                return burst
            return min(burst, self._tokens + (time.monotonic() - self._at) * rate)

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
    """Takes one token per upstream call; Redis-wide when shared, this worker's share while Redis is away."""

    def __init__(self, shared: SharedRedis | None, workers: int):
        self._shared = shared
        self._workers = max(1, workers)
        self._local = LocalBucket()
        self._lock = threading.Lock()
        self._without_redis = False  # whether the last take was from the local bucket
        self._seen: tuple[float, float] | None = None  # (tokens the shared bucket had left, when), at our last take
        self._last_take_ms = 0  # the Redis time of our last take there
        self._spent_locally = 0  # tokens taken from the local bucket, not yet taken out of the shared one
        if shared is not None:
            self._key = shared.key("budget")
            self._take_script = shared.client.register_script(_TAKE)
            self._drain_script = shared.client.register_script(_DRAIN)

    def take(self, per_minute: int, reserve_share: float = 0.0) -> Grant:
        """One token; with ``reserve_share``, only while that share of the burst stays for others."""
        burst, rate = shape(per_minute)
        if self._shared is None:
            return self._local.take(burst, rate, burst * reserve_share)
        return self._shared.run(
            lambda: self._take_shared(burst, rate, reserve_share), lambda: self._take_local(burst, rate, reserve_share)
        )

    def _level_seen(self, burst: float, rate: float) -> float:
        """What the shared bucket would hold now had nobody taken from it since this worker last looked."""
        if self._seen is None:
            # Never looked (started while Redis was away, say a recycled worker): the others may have
            # spent it all, so nothing; the refill is all this worker may count on.
            return 0.0
        left, at = self._seen
        return min(burst, left + (time.time() - at) * rate)

    def _take_shared(self, burst: float, rate: float, reserve_share: float) -> Grant:
        with self._lock:  # what was spent alone is carried back by one take only, even when several run at once
            back, debt, self._spent_locally = self._without_redis, self._spent_locally, 0
            own = self._local.level(burst / self._workers, rate / self._workers) if back else 0.0
        args = [burst, rate, 1, burst * reserve_share, int(back), own, debt, self._workers, self._last_take_ms]
        try:
            result = self._take_script(keys=[self._key], args=args)
        except RedisError:
            with self._lock:
                self._spent_locally += debt
            raise
        granted, wait_ms, left = int(result[0]), int(result[1]), float(result[2])
        with self._lock:
            self._seen, self._last_take_ms = (left, time.time()), int(result[3])
            self._without_redis = False
        return Grant(granted == 1, 0 if granted else max(1, math.ceil(wait_ms / 1000)), max(0, int(left)))

    def _take_local(self, burst: float, rate: float, reserve_share: float) -> Grant:
        share_burst, share_rate = burst / self._workers, rate / self._workers
        with self._lock:
            if not self._without_redis:
                self._without_redis = True
                self._local.seed(self._level_seen(burst, rate) / self._workers)
        grant = self._local.take(share_burst, share_rate, share_burst * reserve_share)
        if grant.granted:
            with self._lock:
                self._spent_locally += 1
        return grant

    def drain(self, seconds: int) -> None:
        """The upstream said 429: spend nothing more until its window resets."""
        self._local.drain(seconds)
        if self._shared is not None:
            self._shared.run(lambda: self._drain_script(keys=[self._key], args=[seconds]), lambda: None)
