"""Refresh-ahead: a quote clients keep asking for is fetched again shortly before its TTL ends.

So a hot quote is always a HIT, never older than its TTL, and its latency does
not depend on the upstream's. Due keys are claimed like misses (one refresher
at a time across workers), merged per data class into one multi-symbol
upstream call, and fetched only while a quarter of the budget's burst stays
for clients' own misses. A key nobody asked for within
``cache_ttl.refresh_ahead_window`` seconds is forgotten. A key the stream keeps
fresh costs nothing; the stock symbols asked for are shared with the streamer.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from opitios.cache import Entry
from opitios.stream.interest import STREAMED
from providers.base import ProviderError

log = logging.getLogger(__name__)

TICK_SECONDS = 0.25
LEAD_SECONDS = 1.0  # refresh when this little of the TTL is left (or a fifth of it, if more)
RESERVE_SHARE = 0.25
TRACKED = 5_000
MIN_TTL = 2  # below this there is no "shortly before the end" to refresh in


@dataclass
class HotKey:
    data_class: str
    item: Hashable
    fetch: Callable
    stamp: Callable
    expires_at: float
    ttl: int
    asked_at: float


class RefreshAhead:
    def __init__(self, protection, store_found: Callable, window: Callable[[], float]):
        self._p = protection
        self._store_found = store_found  # (keys → items, found, stamp, data_class) → entries written
        self._window = window
        self._hot: dict[str, HotKey] = {}
        self._interest: dict[tuple[str, Hashable], float] = {}  # asked since the last share_interest()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def asked(self, key: str, data_class: str, item: Hashable, fetch: Callable, stamp: Callable, entry: Entry) -> None:
        """A client was just answered with ``entry`` for ``key``."""
        if self._window() <= 0:
            return
        now = time.time()
        with self._lock:
            if data_class in STREAMED and entry.value is not None and len(self._interest) < TRACKED:
                self._interest[(data_class, item)] = now  # for the streamer, written by the background tick
            # A stream entry's short TTL is the stream vouching for it; it is tracked so REST takes over the moment it stops.
            if entry.ttl < MIN_TTL and entry.source != "stream":
                return
            if len(self._hot) >= TRACKED and key not in self._hot:
                return  # bounded: past this, only keys already hot stay refreshed
            self._hot[key] = HotKey(data_class, item, fetch, stamp, entry.fetched_at + entry.ttl, entry.ttl, now)

    def share_interest(self) -> None:
        """Add what clients asked for since the last call to the interest the streamer follows (Redis)."""
        with self._lock:
            asked, self._interest = self._interest, {}
        if asked and self._p.interest is not None:
            self._p.interest.record(asked, self._window())

    def run_once(self) -> int:
        """Refresh what is due; the number of keys refreshed."""
        now = time.time()
        window = self._window()
        due: dict[tuple[str, Callable], list[str]] = {}
        with self._lock:
            for key, hot in list(self._hot.items()):
                if now - hot.asked_at > window:
                    del self._hot[key]
                elif hot.expires_at - now <= max(LEAD_SECONDS, hot.ttl / 5):
                    due.setdefault((hot.data_class, hot.fetch), []).append(key)
        return sum(self._refresh(keys) for keys in due.values())

    def _refresh(self, keys: list[str]) -> int:
        token, owned = self._p.flight.claim(keys)
        try:
            mine = [key for key in keys if key in owned]
            if not mine:
                return 0
            hot = {key: self._hot[key] for key in mine if key in self._hot}
            # Another worker may have refreshed these just now: take its entries instead of calling again.
            now = time.time()
            for key, entry in self._p.store.get_many(list(hot), use_l1=False).items():
                # ... or the stream keeps it fresh: that costs no upstream call at all.
                streamed = entry.source == "stream" and entry.fresh(now)
                if streamed or entry.fetched_at + entry.ttl - now > max(LEAD_SECONDS, entry.ttl / 5):
                    hot[key].expires_at, hot[key].ttl = entry.fetched_at + entry.ttl, entry.ttl
                    del hot[key]
            first = next(iter(hot.values()), None)
            if first is None:
                return 0
            items = {key: hot_key.item for key, hot_key in hot.items()}
            try:
                found = self._p.gate.call(
                    first.fetch, list(items.values()), operation=first.data_class, reserve_share=RESERVE_SHARE
                )
            except ProviderError as error:  # clients will see a miss, or stale, the usual way
                log.info("refresh-ahead of %d %s keys skipped: %s", len(items), first.data_class, error.code)
                return 0
            written = self._store_found(items, found, first.stamp, first.data_class)
            with self._lock:
                for key, entry in written.items():
                    if key in self._hot:
                        self._hot[key].expires_at = entry.fetched_at + entry.ttl
                        self._hot[key].ttl = entry.ttl
            return len(written)
        finally:
            self._p.flight.release(token, owned)

    def start(self) -> None:
        self._thread = threading.Thread(
            target=_loop, args=(weakref.ref(self), self._stop), name="opitios-refresh-ahead", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)


def _loop(ref: weakref.ref, stop: threading.Event) -> None:
    while not stop.wait(TICK_SECONDS):
        ahead = ref()
        if ahead is None:
            return
        try:
            ahead.run_once()
            ahead.share_interest()
        except Exception:  # the loop must outlive any surprise
            log.exception("refresh-ahead failed")
        del ahead
