"""Refresh-ahead: a quote clients keep asking for is fetched again shortly before its TTL ends.

So a hot quote is always a HIT, never older than its TTL, and its latency does
not depend on the upstream's. Due keys are claimed like misses (one refresher
at a time across workers), merged per data class into one multi-symbol
upstream call, and fetched only while a quarter of the budget's burst stays
for clients' own misses. The call is the cost, not its symbols: once a class has
a key due, its keys past half their TTL join the call, so keys fetched at
different moments fall into step and many hot symbols cost one call per TTL. A key nobody asked for within
``cache_ttl.refresh_ahead_window`` seconds is forgotten. A key the stream keeps
fresh costs nothing; the stock symbols asked for are shared with the streamer.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from opitios.background import Repeating
from opitios.cache import Entry
from opitios.data_classes import DataClass
from opitios.stream.interest import Interest

log = logging.getLogger(__name__)

TICK_SECONDS = 0.25
LEAD_SECONDS = 1.0  # refresh when this little of the TTL is left (or a fifth of it, if more)
RESERVE_SHARE = 0.25
JOIN_SHARE = 0.5  # a key with less than this share of its TTL left joins its class's call when one is due
TRACKED = 5_000
MIN_TTL = 2  # below this there is no "shortly before the end" to refresh in


@dataclass
class HotKey:
    data_class: DataClass
    symbol: Hashable
    fetch: Callable  # the provider's many-symbols call
    expires_at: float
    ttl: float
    asked_at: float


class RefreshAhead:
    def __init__(self, cached, interest: Interest | None, window: Callable[[], float]):
        self._cached = cached  # the CachedFetch this fetches through, as client misses do
        self._interest = interest
        self._window = window
        self._hot: dict[str, HotKey] = {}
        self._asked: dict[tuple[str, Hashable], float] = {}  # asked since the last share_interest()
        self._lock = threading.Lock()
        self._ticks = Repeating(self, "opitios-refresh-ahead", RefreshAhead.tick, lambda _: TICK_SECONDS)

    def asked(self, key: str, data_class: DataClass, symbol: Hashable, fetch: Callable, entry: Entry) -> None:
        """A client was just answered with ``entry`` for ``key``."""
        if self._window() <= 0:
            return
        now = time.time()
        with self._lock:
            if data_class.streamed and entry.has_data and len(self._asked) < TRACKED:
                self._asked[(data_class.name, symbol)] = now  # for the streamer, written by the background tick
            # A stream entry's short TTL is the stream vouching for it; it is tracked so REST takes over the moment it stops.
            if entry.ttl < MIN_TTL and entry.source != "stream":
                return
            hot = self._hot.get(key)
            if hot is not None:
                hot.expires_at, hot.ttl, hot.asked_at = entry.fetched_at + entry.ttl, entry.ttl, now
            elif len(self._hot) < TRACKED:  # bounded: past this, only keys already hot stay refreshed
                self._hot[key] = HotKey(data_class, symbol, fetch, entry.fetched_at + entry.ttl, entry.ttl, now)

    def share_interest(self) -> None:
        """Add what clients asked for since the last call to the interest the streamer follows (Redis)."""
        with self._lock:
            asked, self._asked = self._asked, {}
        if asked and self._interest is not None:
            self._interest.record(asked, self._window())

    def tick(self) -> None:
        """What the background thread does every TICK_SECONDS."""
        self.run_once()
        self.share_interest()

    def run_once(self) -> int:
        """Refresh what is due; the number of keys refreshed."""
        now = time.time()
        window = self._window()
        due: dict[tuple[DataClass, Callable], list[str]] = {}
        joining: dict[tuple[DataClass, Callable], list[str]] = {}
        with self._lock:
            for key, hot in list(self._hot.items()):
                left = hot.expires_at - now
                if now - hot.asked_at > window:
                    del self._hot[key]
                elif left <= max(LEAD_SECONDS, hot.ttl / 5):
                    due.setdefault((hot.data_class, hot.fetch), []).append(key)
                elif left <= hot.ttl * JOIN_SHARE:
                    joining.setdefault((hot.data_class, hot.fetch), []).append(key)
        return sum(self._refresh(keys + joining.get(call, [])) for call, keys in due.items())

    def _refresh(self, keys: list[str]) -> int:
        with self._lock:
            hot = {key: self._hot[key] for key in keys if key in self._hot}
        first = next(iter(hot.values()), None)
        if first is None:
            return 0
        asks = {key: hot_key.symbol for key, hot_key in hot.items()}
        claimed = self._cached.fetch_symbols(first.data_class, asks, first.fetch, _needs_no_refresh, RESERVE_SHARE)
        if claimed.error is not None:  # clients will see a miss, or stale, the usual way
            log.info("refresh-ahead of %d %s keys skipped: %s", len(asks), first.data_class.name, claimed.error.code)
        with self._lock:
            # Refreshed by another worker just now, or kept fresh by the stream: nothing to call for these.
            for key, entry in (claimed.meanwhile | claimed.fetched).items():
                if key in self._hot:
                    self._hot[key].expires_at, self._hot[key].ttl = entry.fetched_at + entry.ttl, entry.ttl
        return len(claimed.fetched)

    def start(self) -> None:
        self._ticks.start()

    def stop(self) -> None:
        self._ticks.stop()


def _needs_no_refresh(entry: Entry) -> bool:
    """An entry another worker refreshed already (more than the joining share of its TTL left), or one the
    stream keeps fresh (that costs no upstream call)."""
    now = time.time()
    streamed = entry.source == "stream" and entry.fresh(now)
    return streamed or entry.fetched_at + entry.ttl - now > entry.ttl * JOIN_SHARE
