"""Client-limit counts kept in each worker and reconciled with Redis in the background: a ``limits`` storage.

The client limiter (``limits``' sliding-window-counter strategy) asks this storage whether a hit
fits and what is left. It answers from the worker's own view of each window:
the total Redis reported at the last sync plus the hits this worker accepted
since. A background thread sends those hits and reads the totals back, for
every window the worker knows, in one Lua call every ``rate_limits.sync_ms``.
A request waits on Redis only when its worker meets a client for the first
time (or again after half a minute without it): one read, so no worker
starts a client from zero.

The price is a bounded overshoot. A worker does not see what the others
accepted since its last sync, so beyond its limit a key can get what the
other workers accept for it before their hits reach it (one interval for
another worker to send them, up to one more for this one to read them):
about instances × workers × per-key rate per worker × 2 × interval.

While Redis is away (this storage's last sync failed, or the worker's
``SharedRedis`` is degraded) each worker may spend only its share of what is
left: its unsynced hits count ``workers`` times over, so the workers of an
instance stay within the limit together. The first sync that succeeds sends
every hit accepted meanwhile, and the shared totals are in force again at
once. A Redis that comes back empty gets its counts back: no sync leaves a
counter below what the syncing worker already knew, so the hits from before
the outage still count.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import redis
from limits.storage import SlidingWindowCounterSupport, Storage

from opitios import metrics
from opitios.background import Repeating
from opitios.shared_redis import SharedRedis

log = logging.getLogger(__name__)

# A window this worker has not used for this long is forgotten (its next use reads it afresh), so a
# round carries the clients of the last half minute, not every client of the hour.
IDLE_SECONDS = 30.0

# KEYS: window counters; ARGV: for each, the hits to add, the seconds a new counter lives, and the
# least the total can be (what the worker already knew, its hits included: more than Redis holds only
# after Redis lost its data). Returns each counter's total afterwards; nothing is written for a pure read.
_SYNC = """
local totals = {}
for i, key in ipairs(KEYS) do
  local hits, lives, known = tonumber(ARGV[3 * i - 2]), tonumber(ARGV[3 * i - 1]), tonumber(ARGV[3 * i])
  local stored = redis.call('GET', key)
  local total = math.max(tonumber(stored or '0') + hits, known)
  if not stored then
    if total > 0 then redis.call('SET', key, total, 'EX', lives) end
  elseif total > tonumber(stored) then
    redis.call('INCRBY', key, total - tonumber(stored))
  end
  totals[i] = total
end
return totals
"""


# The previous and the current window of a limit: (Redis key, window number) each.
Slots = tuple[tuple[str, int], tuple[str, int]]
# What ``get_sliding_window`` tells ``limits``: the previous window's count and the seconds until it
# weighs nothing, the current window's count and the seconds until its counter is gone.
Reading = tuple[int, float, int, float]


@dataclass
class Window:
    """One limit's counter for one window, as this worker knows it."""

    lives: int  # seconds its Redis counter lives: two windows, so it still counts as the previous one
    ends_at: float  # when it stops counting even as the previous window
    seen: int = 0  # the total at the last sync
    sending: int = 0  # hits in the sync under way
    unsent: int = 0  # hits accepted since
    used_at: float = 0.0

    def count(self, scale: int = 1) -> int:
        """The total as this worker estimates it, its own unsynced hits counting ``scale`` times."""
        return self.seen + scale * (self.sending + self.unsent)


class SyncedStorage(Storage, SlidingWindowCounterSupport):
    """Sliding-window counters decided in the worker and reconciled with Redis every ``sync_seconds()``."""

    STORAGE_SCHEME = ["synced+redis", "synced+rediss", "synced+unix", "synced+redis+sentinel"]

    def __init__(
        self,
        uri: str,
        shared: SharedRedis | None = None,
        workers: int = 1,
        sync_seconds: Callable[[], float] = lambda: 0.1,
        key_prefix: str = "LIMITS",
        clock: Callable[[], float] = time.time,
        wrap_exceptions: bool = False,
        **options,
    ):
        """``uri`` is a Redis URL behind ``synced+``; ``shared`` (the app's Redis, preferred) takes its place."""
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self._shared = shared or SharedRedis(uri.removeprefix("synced+"), max_connections=4)
        self._workers = max(1, int(workers))
        self._sync_seconds = sync_seconds
        self._prefix = key_prefix
        self._clock = clock
        self._script = self._shared.client.register_script(_SYNC)
        self._windows: dict[str, Window] = {}
        self._named: dict[tuple[str, int], tuple[int, Slots]] = {}  # (key, expiry) → its window number and slots
        self._failing = False
        self._lock = threading.Lock()
        self._syncing = threading.Lock()  # one round at a time: the loop's, or stop()'s last one
        self._rounds = Repeating(self, "opitios-limit-sync", SyncedStorage.sync, SyncedStorage.interval)
        self._rounds.start()

    @property
    def base_exceptions(self) -> type[Exception]:
        return redis.RedisError

    # -- what the limiter asks on a request: answered from this worker's view -----------------------------

    def acquire_sliding_window_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        return self.acquire_sliding_window_entries([(key, limit, expiry)], amount)[0] is None

    def get_sliding_window(self, key: str, expiry: int) -> Reading:
        """(previous count, its weight in seconds, current count, seconds until the current counter is gone)."""
        now = self._clock()
        slots = self._slots(key, expiry, now)
        self._meet(slots, expiry, now)
        with self._lock:
            return self._reading(*self._pair(slots, expiry, now), expiry, self._scale())

    def acquire_sliding_window_entries(self, entries: Sequence[tuple[str, int, int]],
                                       amount: int = 1) -> tuple[int | None, list[Reading]]:
        """``amount`` in every window of ``entries`` ((key, limit, expiry) each), or in none when one would pass
        its limit: the index of the first that would (None: spent on all), and each window's reading
        afterwards, as ``get_sliding_window`` gives it.

        A request asks once for all of its client's limits: a refusal by one costs nothing on the
        others, and the answer's limit headers need no second look.
        """
        now = self._clock()
        asked = []
        for key, limit, expiry in entries:
            slots = self._slots(key, expiry, now)
            self._meet(slots, expiry, now)
            asked.append((slots, limit, expiry))
        with self._lock:
            scale = self._scale()
            pairs = [(self._pair(slots, expiry, now), limit, expiry) for slots, limit, expiry in asked]
            refused = None
            for index, ((previous, current, weight), limit, _) in enumerate(pairs):
                if math.floor(previous.count(scale) * weight + current.count(scale)) + amount * scale > limit:
                    refused = index
                    break
            else:
                for (_, current, _), _, _ in pairs:
                    current.unsent += amount
            return refused, [self._reading(*pair, expiry, scale) for pair, _, expiry in pairs]

    @staticmethod
    def _reading(previous: Window, current: Window, weight: float, expiry: int, scale: int) -> Reading:
        previous_count = previous.count(scale)
        left = weight * expiry  # seconds left in the current window
        return previous_count, left if previous_count else 0.0, current.count(scale), left + expiry

    def clear_sliding_window(self, key: str, expiry: int) -> None:
        names = [name for name, _ in self._slots(key, expiry, self._clock())]
        with self._lock:
            for name in names:
                self._windows.pop(name, None)
        self._shared.run(lambda: self._shared.client.delete(*names), lambda: None)

    def _scale(self) -> int:
        """How many times this worker's unsynced hits count: once, or once per worker while Redis is away."""
        return 1 if self._healthy() else self._workers

    def _healthy(self) -> bool:
        return not self._failing and self._shared.state == "ok"

    def _meet(self, slots: Slots, expiry: int, now: float) -> None:
        """Read a key's totals when this worker knows nothing of it, so it never starts a client from zero."""
        if slots[0][0] in self._windows or slots[1][0] in self._windows:  # a lookup is atomic: no lock needed
            return
        names = [name for name, _ in slots]
        totals = self._shared.run(lambda: self._shared.client.mget(names), lambda: [None] * len(names))
        with self._lock:
            for window, total in zip(self._windows_of(slots, expiry, now), totals):
                window.seen = max(window.seen, int(total or 0))

    def _pair(self, slots: Slots, expiry: int, now: float) -> tuple[Window, Window, float]:
        """The previous and the current window, and the previous one's weight now (1 at the start of the current)."""
        previous, current = self._windows_of(slots, expiry, now)
        previous.used_at = current.used_at = now
        return previous, current, 1 - (now / expiry) % 1

    def _windows_of(self, slots: Slots, expiry: int, now: float) -> list[Window]:
        found = []
        for name, index in slots:
            window = self._windows.get(name)
            if window is None:
                window = self._windows[name] = Window(lives=2 * expiry, ends_at=(index + 2) * expiry, used_at=now)
            found.append(window)
        return found

    def _slots(self, key: str, expiry: int, now: float) -> Slots:
        """The Redis counters of the previous and the current window, with their window numbers.

        Named once per window and kept, since every request of a client asks for the same two.
        """
        current = int(now // expiry)
        named = self._named.get((key, expiry))
        if named is None or named[0] != current:
            slots = tuple((f"{self._prefix}:{key}/{index}", index) for index in (current - 1, current))
            named = self._named[(key, expiry)] = (current, slots)
        return named[1]

    # -- the background side ------------------------------------------------------------------------------

    def sync(self) -> bool:
        """Send the hits accepted since the last round and read every known total, in one round trip.

        False when Redis failed: the hits stay to be sent in a later round.
        """
        with self._syncing:
            return self._sync(self._clock())

    def _sync(self, now: float) -> bool:
        with self._lock:
            self._forget(now)
            batch = list(self._windows.items())
            for _, window in batch:
                window.sending, window.unsent = window.unsent, 0
        if not batch:  # nothing known, so nothing out of date
            if self._shared.state == "ok":
                self._failed(False)
                metrics.RATE_LIMIT_SYNCED_AT.set(now)
            return not self._failing
        keys = [name for name, _ in batch]
        args = [number for _, w in batch for number in (w.sending, w.lives, w.seen + w.sending)]
        totals = self._shared.run(lambda: self._script(keys=keys, args=args), lambda: None)
        with self._lock:
            for index, (_, window) in enumerate(batch):
                if totals is None:
                    # Sent again next round; should Redis have applied them before the answer was lost,
                    # they count twice: a stricter limit for a window, never a looser one.
                    window.unsent += window.sending
                else:
                    window.seen = int(totals[index])  # never below what it knew: the script saw to that
                window.sending = 0
        self._failed(totals is None)
        if totals is not None:
            metrics.RATE_LIMIT_SYNCED_AT.set(now)
        return totals is not None

    def _forget(self, now: float) -> None:
        """Drop windows that are over, and idle ones that can be read afresh (not while Redis is away)."""
        healthy = self._healthy()
        for name, window in list(self._windows.items()):
            idle = healthy and now - window.used_at > IDLE_SECONDS and not window.unsent
            if window.ends_at <= now or idle:
                del self._windows[name]
        for limit, (_, slots) in list(self._named.items()):
            if not any(name in self._windows for name, _ in slots):
                self._named.pop(limit, None)

    def _failed(self, failing: bool) -> None:
        if failing != self._failing:
            self._failing = failing
            if failing:
                log.warning("client rate limits: Redis unreachable; each worker allows 1/%d of what is left", self._workers)
            else:
                log.warning("client rate limits: counting on Redis again")

    def interval(self) -> float:
        return self._sync_seconds()

    def stop(self) -> None:
        """Stop the background sync, after one last round so no accepted hit is left unsent."""
        self._rounds.stop()
        self.sync()

    # -- the rest of a storage: resets and health checks ----------------------------------------------------

    def check(self) -> bool:
        return bool(self._shared.run(lambda: self._shared.client.ping(), lambda: False))

    def reset(self) -> int | None:
        """Forget every count, here and in Redis (another worker's next sync puts back what it knew)."""
        with self._lock:
            self._windows.clear()
            self._named.clear()

        def delete() -> int:
            names = list(self._shared.client.scan_iter(match=f"{self._prefix}:*", count=1000))
            return self._shared.client.delete(*names) if names else 0

        return self._shared.run(delete, lambda: None)

    def clear(self, key: str) -> None:
        raise NotImplementedError(_ONLY_SLIDING)

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        raise NotImplementedError(_ONLY_SLIDING)

    def get(self, key: str) -> int:
        raise NotImplementedError(_ONLY_SLIDING)

    def get_expiry(self, key: str) -> float:
        raise NotImplementedError(_ONLY_SLIDING)


_ONLY_SLIDING = "synced counts serve the sliding-window-counter strategy only"
