"""Cache-aside for market data: fresh entries from the cache, misses from the upstream once, stale on failure.

For a set of keys: read them all in one round trip; keep the fresh ones; of
the misses, fetch the ones this request could claim in ONE upstream call (the
gate applies budget, circuit and retries), and wait for the ones another
request is already fetching. When the upstream cannot answer, an entry still
within ``stale_if_error_seconds`` past its TTL stands in, marked stale;
without one, the upstream's error is the answer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any

from opitios import metrics
from opitios.cache import CacheStore, Entry, ttl_for
from opitios.runtime.refresh import RuntimeConfig
from opitios.services.refresh_ahead import RefreshAhead
from opitios.stream.interest import Interest
from opitios.upstream.flight import SingleFlight
from opitios.upstream.gate import UpstreamGate
from providers.base import ProviderError, UpstreamNotConfigured, UpstreamRejectedRequest, UpstreamTimeout

POLL_SECONDS = 0.02
# Errors for which a stale answer may stand in: the upstream is failing, not our request.
_NO_STALE = (UpstreamNotConfigured, UpstreamRejectedRequest)


@dataclass(frozen=True)
class Answer:
    entry: Entry
    status: str  # "hit", "miss" or "stale"


@dataclass(frozen=True)
class Protection:
    """The per-app machinery between services and providers."""

    store: CacheStore
    flight: SingleFlight
    gate: UpstreamGate
    config: RuntimeConfig
    wait_seconds: float  # how long a request waits for another's upstream call
    interest: Interest | None = None  # what clients ask for, shared with the streamer (None without Redis)


# Data classes whose misses merge into one multi-symbol call, and so are refreshed ahead.
REFRESHED_AHEAD = ("stock_quote", "option_quote")


class CachedFetch:
    def __init__(self, protection: Protection, market_status: Callable[[], str]):
        self._p = protection
        self._market_status = market_status
        self.ahead = RefreshAhead(
            protection, self._store_found, lambda: protection.config.section("cache_ttl")["refresh_ahead_window"]
        )

    def many(
        self,
        keys: Mapping[str, Hashable],
        fetch: Callable[[list], Mapping[Hashable, Any]],
        stamp: Callable[[Any], str | None],
        data_class: str,
        max_age: float | None = None,
    ) -> dict[str, Answer]:
        """An answer for every key: ``keys`` maps cache keys to what ``fetch`` takes (symbols, a query)."""
        started = time.time()
        present = self._p.store.get_many(list(keys))
        answers = {key: Answer(entry, "hit") for key, entry in present.items() if entry.fresh(started, max_age)}
        waiting = [key for key in keys if key not in answers]
        deadline = time.monotonic() + self._p.wait_seconds
        waited = False
        while waiting:
            token, owned = self._p.flight.claim(waiting)
            if owned:
                try:
                    # Another request may have written a key between our read and our claim.
                    answers.update(self._written_meanwhile(owned, started))
                    mine = [key for key in waiting if key in owned and key not in answers]
                    if mine:
                        answers.update(self._fetch(mine, keys, fetch, stamp, data_class, present))
                finally:
                    self._p.flight.release(token, owned)
            waiting = [key for key in waiting if key not in answers]
            if not waiting:
                break
            if not waited:
                metrics.SINGLEFLIGHT_WAITS.labels(data_class=data_class).inc()
                waited = True
            time.sleep(POLL_SECONDS)
            answers.update(self._written_meanwhile(waiting, started))
            waiting = [key for key in waiting if key not in answers]
            if waiting and time.monotonic() > deadline:
                answers.update(self._stale_or_raise(waiting, present, UpstreamTimeout(
                    "Waited too long for another request's upstream call"
                )))
                break
        for answer in answers.values():
            metrics.CACHE.labels(data_class=data_class, result=answer.status).inc()
        if data_class in REFRESHED_AHEAD:
            for key, answer in answers.items():
                if answer.status != "stale":
                    self.ahead.asked(key, data_class, keys[key], fetch, stamp, answer.entry)
        return answers

    def _written_meanwhile(self, keys, since: float) -> dict[str, Answer]:
        """Entries another request fetched after this one began (so within any max_age); misses for this wave."""
        entries = self._p.store.get_many(list(keys), use_l1=False)
        return {key: Answer(entry, "miss") for key, entry in entries.items() if entry.fetched_at >= since}

    def _fetch(self, owned, keys, fetch, stamp, data_class, present) -> dict[str, Answer]:
        items = [keys[key] for key in owned]
        try:
            found = self._p.gate.call(fetch, items, operation=data_class)
        except _NO_STALE:
            raise
        except ProviderError as error:
            return self._stale_or_raise(owned, present, error)
        entries = self._store_found({key: keys[key] for key in owned}, found, stamp, data_class)
        return {key: Answer(entry, "miss") for key, entry in entries.items()}

    def _store_found(self, items: Mapping[str, Hashable], found, stamp, data_class: str) -> dict[str, Entry]:
        """Entries for what an upstream call returned (``None`` for what it had no data on), stored."""
        ttl = ttl_for(data_class, self._market_status(), self._p.config.section("cache_ttl"))
        fetched_at = time.time()
        entries = {}
        for key, item in items.items():
            value = found.get(item)
            entries[key] = Entry(value, stamp(value) if value is not None else None, fetched_at, ttl)
        window = self._p.config.section("limits")["stale_if_error_seconds"]
        self._p.store.set_many(entries, keep_for=max(1, ttl + window))
        return entries

    def _stale_or_raise(self, keys, present: Mapping[str, Entry], error: ProviderError) -> dict[str, Answer]:
        """Stale entries for every key, or the error when any key has none young enough."""
        window = self._p.config.section("limits")["stale_if_error_seconds"]
        now = time.time()
        stale = {key: present[key] for key in keys if key in present and present[key].usable_stale(now, window)}
        if len(stale) < len(keys) or any(entry.value is None for entry in stale.values()):
            raise error
        return {key: Answer(entry, "stale") for key, entry in stale.items()}
