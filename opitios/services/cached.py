"""Cache-aside for market data: fresh entries from the cache, misses from the upstream once, stale on failure.

For a set of keys: read them all in one round trip; keep the fresh ones; of
the misses, fetch the ones this request could claim in ONE upstream call (the
gate applies budget, circuit and retries), and wait for the ones another
request is already fetching. When the upstream cannot answer, an entry still
within ``stale_if_error_seconds`` past its TTL stands in, marked stale;
without one, the upstream's error is the answer. Refresh-ahead fetches through
the same path (``fetch_claimed``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

from opitios import metrics
from opitios.cache import CacheStore, Entry
from opitios.data_classes import DataClass
from opitios.runtime.refresh import RuntimeConfig
from opitios.services.refresh_ahead import RefreshAhead
from opitios.stream.interest import Interest
from opitios.upstream.flight import SingleFlight
from opitios.upstream.gate import UpstreamGate
from providers.base import ProviderError, UpstreamNotConfigured, UpstreamRejectedRequest, UpstreamTimeout

POLL_SECONDS = 0.02
# Errors for which a stale answer may stand in: the upstream is failing, not our request.
_NO_STALE = (UpstreamNotConfigured, UpstreamRejectedRequest)

# The upstream for cached data, by cache key: the keys to fetch → {key: the provider's value} (a key left out: no data).
FetchKeys = Callable[[list[str]], Mapping[str, Any]]


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


@dataclass(frozen=True)
class Claimed:
    """What one pass of ``fetch_claimed`` did with the keys it was given."""

    owned: Collection[str]  # the keys it claimed (the others were being fetched by someone else)
    meanwhile: dict[str, Entry] = field(default_factory=dict)  # claimed, and found already written by another
    fetched: dict[str, Entry] = field(default_factory=dict)  # claimed, fetched and stored now
    error: ProviderError | None = None  # why the rest of the claimed keys were not fetched


def by_symbol(fetch: Callable[[list], Mapping[Hashable, Any]], asks: Mapping[str, Hashable]) -> FetchKeys:
    """A provider's many-symbols call (``[symbol] → {symbol: value}``) as a fetch by cache key."""

    def fetch_keys(keys: list[str]) -> dict[str, Any]:
        found = fetch([asks[key] for key in keys])
        return {key: found[asks[key]] for key in keys if asks[key] in found}

    return fetch_keys


class CachedFetch:
    def __init__(self, protection: Protection, market_status: Callable[[], str]):
        self._p = protection
        self._market_status = market_status
        self.ahead = RefreshAhead(self, protection.interest, lambda: protection.config.section("cache_ttl")["refresh_ahead_window"])
        self._counted = {}  # (data class, status) → its cache-lookup counter, looked up once

    def quotes(
        self,
        data_class: DataClass,
        symbols: list[str],
        feed: str,
        fetch: Callable[[list[str]], Mapping[str, Any]],
        max_age: float | None = None,
    ) -> dict[str, Answer]:
        """An answer for every symbol; the misses come from one ``fetch(symbols) → {symbol: value}`` call."""
        asks = {data_class.key(symbol, feed): symbol for symbol in symbols}
        answers = self._answers(data_class, asks, by_symbol(fetch, asks), max_age)
        if data_class.refreshed_ahead:
            for key, answer in answers.items():
                if answer.status != "stale":
                    self.ahead.asked(key, data_class, asks[key], fetch, answer.entry)
        return {asks[key]: answer for key, answer in answers.items()}

    def page(self, data_class: DataClass, query: Mapping[str, Any], feed: str, fetch: Callable[[Any], Any]) -> Answer:
        """The answer for one page (bars, a chain): ``fetch(query)`` on a miss."""
        key = data_class.key(query, feed)
        return self._answers(data_class, {key: query}, lambda _: {key: fetch(query)})[key]

    def _answers(
        self, data_class: DataClass, asks: Mapping[str, Any], fetch: FetchKeys, max_age: float | None = None
    ) -> dict[str, Answer]:
        """An answer for every key of ``asks`` (cache key → what was asked for)."""
        started = time.time()
        present = self._p.store.get_many(list(asks))
        answers = {key: Answer(entry, "hit") for key, entry in present.items() if entry.fresh(started, max_age)}
        waiting = [key for key in asks if key not in answers]
        deadline = time.monotonic() + self._p.wait_seconds
        waited = False
        while waiting:
            # What another request writes meanwhile is good if this one would have taken it at the start
            # (its upstream call may have answered just before this request began), or if it was fetched
            # since: as new as anything this one could fetch.
            good = lambda entry: entry.fetched_at >= started or entry.fresh(started, max_age)  # noqa: E731
            claimed = self.fetch_claimed(data_class, {key: asks[key] for key in waiting}, fetch, good)
            answers.update({key: Answer(entry, "miss") for key, entry in (claimed.meanwhile | claimed.fetched).items()})
            if claimed.error is not None:
                if isinstance(claimed.error, _NO_STALE):
                    raise claimed.error
                unanswered = [key for key in waiting if key in claimed.owned and key not in answers]
                answers.update(self._stale_or_raise(unanswered, present, claimed.error))
            waiting = [key for key in waiting if key not in answers]
            if not waiting:
                break
            if not waited:
                metrics.SINGLEFLIGHT_WAITS.labels(data_class=data_class.name).inc()
                waited = True
            time.sleep(POLL_SECONDS)
            answers.update(self._written_meanwhile(waiting, good))
            waiting = [key for key in waiting if key not in answers]
            if waiting and time.monotonic() > deadline:
                answers.update(self._stale_or_raise(waiting, present, UpstreamTimeout(
                    "Waited too long for another request's upstream call"
                )))
                break
        for answer in answers.values():
            self._count(data_class, answer.status)
        return answers

    def fetch_claimed(
        self,
        data_class: DataClass,
        asks: Mapping[str, Any],
        fetch: FetchKeys,
        still_good: Callable[[Entry], bool],
        reserve_share: float = 0.0,
    ) -> Claimed:
        """The one way cached data reaches the upstream, for client misses and refresh-ahead alike.

        Claim the keys nobody else is fetching; of those, take the entries another request or worker
        wrote meanwhile that are ``still_good``; fetch the rest in one gated call (leaving
        ``reserve_share`` of the budget's burst to others), store them, and release the claims.
        """
        token, owned = self._p.flight.claim(list(asks))
        try:
            if not owned:
                return Claimed(owned)
            mine = [key for key in asks if key in owned]
            meanwhile = {key: entry for key, entry in self._p.store.get_many(mine, use_l1=False).items() if still_good(entry)}
            mine = [key for key in mine if key not in meanwhile]
            if not mine:
                return Claimed(owned, meanwhile)
            try:
                found = self._p.gate.call(fetch, mine, operation=data_class.name, reserve_share=reserve_share)
            except ProviderError as error:
                return Claimed(owned, meanwhile, error=error)
            return Claimed(owned, meanwhile, self._store(data_class, {key: asks[key] for key in mine}, found))
        finally:
            self._p.flight.release(token, owned)

    def fetch_symbols(
        self,
        data_class: DataClass,
        asks: Mapping[str, Hashable],
        fetch: Callable[[list], Mapping[Hashable, Any]],
        still_good: Callable[[Entry], bool],
        reserve_share: float = 0.0,
    ) -> Claimed:
        """``fetch_claimed`` for a class asked for by symbol (``asks``: key → symbol), with the provider's call."""
        return self.fetch_claimed(data_class, asks, by_symbol(fetch, asks), still_good, reserve_share)

    def _store(self, data_class: DataClass, asks: Mapping[str, Any], found: Mapping[str, Any]) -> dict[str, Entry]:
        """Entries for what an upstream call returned (no data for what it left out), rendered and stored."""
        ttl = data_class.ttl(self._market_status(), self._p.config.section("cache_ttl"))
        fetched_at = time.time()
        entries = {key: data_class.entry(asked, found.get(key), fetched_at, ttl) for key, asked in asks.items()}
        window = self._p.config.section("limits")["stale_if_error_seconds"]
        self._p.store.set_many(entries, keep_for=max(1, ttl + window))
        return entries

    def _written_meanwhile(self, keys, good: Callable[[Entry], bool]) -> dict[str, Answer]:
        """Entries another request stored since this one looked, that are ``good`` for it; misses for this wave."""
        entries = self._p.store.get_many(list(keys), use_l1=False)
        return {key: Answer(entry, "miss") for key, entry in entries.items() if good(entry)}

    def _stale_or_raise(self, keys, present: Mapping[str, Entry], error: ProviderError) -> dict[str, Answer]:
        """Stale entries for every key, or the error when any key has none young enough."""
        window = self._p.config.section("limits")["stale_if_error_seconds"]
        now = time.time()
        stale = {key: present[key] for key in keys if key in present and present[key].usable_stale(now, window)}
        if len(stale) < len(keys) or not all(entry.has_data for entry in stale.values()):
            raise error
        return {key: Answer(entry, "stale") for key, entry in stale.items()}

    def _count(self, data_class: DataClass, status: str) -> None:
        counter = self._counted.get((data_class.name, status))
        if counter is None:
            counter = self._counted[(data_class.name, status)] = metrics.CACHE.labels(data_class=data_class.name, result=status)
        counter.inc()
