"""The market-data cache: key names, TTL policy, entry format, and the store (Redis, or in-process).

Keys are versioned and namespaced (``opitios:v1:quote:stock:AAPL:iex``, under ``OPITIOS_REDIS_PREFIX``) so a
deploy that changes the entry format moves to ``v2`` instead of misreading
``v1``. An entry is the provider's normalized value plus the upstream's own
timestamp, the time it was fetched, the TTL it was fetched with and its source
(a REST call or the stream, see ``opitios.stream``); it is
kept ``stale_if_error_seconds`` beyond that TTL so the last real answer can
stand in for a failing upstream. ``value: None`` records the upstream's
answer that it has no data for the key.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cachelib import BaseCache
from flask import Flask
from flask_caching import Cache

from opitios.shared_redis import SharedRedis

INTRADAY = ("Min", "Hour")
# The in-worker L1 in front of Redis: at most this long, never past the entry's TTL.
L1_SECONDS = 1.0
# A stream entry changes with every push: the L1 keeps it only this long, so answers stay within it of Redis.
STREAM_L1_SECONDS = 0.1
L1_SIZE = 10_000


# -- keys ------------------------------------------------------------------------------------------


def stock_quote_key(symbol: str, feed: str) -> str:
    return f"quote:stock:{symbol}:{feed}"


def option_quote_key(symbol: str, feed: str) -> str:
    return f"quote:option:{symbol}:{feed}"


def _digest(params: Mapping[str, Any]) -> str:
    canonical = json.dumps(params, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def bars_key(query: Mapping[str, Any], feed: str) -> str:
    return f"bars:{query['symbol']}:{query['timeframe']}:{feed}:{_digest(query)}"


def chain_key(query: Mapping[str, Any], feed: str) -> str:
    return f"chain:{query['underlying_symbol']}:{feed}:{_digest(query)}"


# -- TTL policy --------------------------------------------------------------------------------------


def bars_class(timeframe: str) -> str:
    return "bars_intraday" if timeframe.endswith(INTRADAY) else "bars_daily"


def ttl_for(data_class: str, market_status: str, ttls: Mapping[str, int]) -> int:
    """Seconds fresh for a data class; an unknown market state gets the (shorter) open-market TTL."""
    return ttls[f"{data_class}_{'closed' if market_status == 'closed' else 'open'}"]


# -- entries -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    value: Any  # the provider's normalized data; None: the upstream had none
    data_timestamp: str | None
    fetched_at: float  # Unix seconds
    ttl: float
    # "rest": fetched with a snapshot call. "stream": written by the streamer, which vouches for it
    # only a few seconds at a time (its ttl), so it lapses to REST as soon as the stream stops.
    source: str = "rest"

    def age(self, now: float) -> float:
        return now - self.fetched_at

    def fresh(self, now: float, max_age: float | None = None) -> bool:
        age = self.age(now)
        return age < self.ttl and (max_age is None or age <= max_age)

    def usable_stale(self, now: float, stale_window: int) -> bool:
        return self.age(now) < self.ttl + stale_window

    def remaining(self, now: float) -> int:
        return max(0, int(self.ttl - self.age(now)))

    def dump(self) -> dict:
        return {"v": self.value, "ts": self.data_timestamp, "at": self.fetched_at, "ttl": self.ttl, "src": self.source}

    @classmethod
    def load(cls, raw: Any) -> "Entry | None":
        if not isinstance(raw, dict) or "at" not in raw:
            return None  # not ours (or an older format): a miss
        return cls(raw.get("v"), raw.get("ts"), raw["at"], raw["ttl"], raw.get("src", "rest"))


# -- the store -------------------------------------------------------------------------------------


def _backend(app: Flask, config: dict) -> BaseCache:
    """A Flask-Caching cache bound to ``app``; we use its backend directly so errors reach us."""
    cache = Cache(app, config={"CACHE_DEFAULT_TIMEOUT": 300, **config})
    return app.extensions["cache"][cache]


class L1:
    """A small LRU of fresh entries in this worker, so a hot key costs no round trip to Redis.

    It only ever answers with an entry still within its TTL (and its own short
    life); anything older is asked of Redis, which alone decides what is stale.
    """

    def __init__(self, seconds: float = L1_SECONDS, size: int = L1_SIZE):
        self._seconds = seconds
        self._size = size
        self._entries: OrderedDict[str, tuple[Entry, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str, now: float) -> Entry | None:
        with self._lock:
            held = self._entries.get(key)
            if held is None:
                return None
            entry, until = held
            if now >= until or not entry.fresh(now):
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry

    def put(self, key: str, entry: Entry, now: float) -> None:
        if not entry.fresh(now):
            return
        seconds = self._seconds if entry.source == "rest" else min(self._seconds, STREAM_L1_SECONDS)
        with self._lock:
            self._entries[key] = (entry, min(now + seconds, entry.fetched_at + entry.ttl))
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)


class CacheStore:
    """Entries in Redis (shared by every worker and instance), or in this worker while Redis is away."""

    def __init__(self, app: Flask, shared: SharedRedis | None):
        self._shared = shared
        self._l1 = L1() if shared is not None else None
        self._local = _backend(app, {"CACHE_TYPE": "SimpleCache", "CACHE_THRESHOLD": 20000})
        self._redis = (
            _backend(app, {"CACHE_TYPE": "RedisCache", "CACHE_REDIS_HOST": shared.client, "CACHE_KEY_PREFIX": shared.namespace})
            if shared
            else None
        )

    @property
    def mode(self) -> str:
        if self._shared is None:
            return "local"
        return "shared" if self._shared.state == "ok" else "degraded"

    def _run(self, operation):
        if self._shared is None:
            return operation(self._local)
        return self._shared.run(lambda: operation(self._redis), lambda: operation(self._local))

    def get_many(self, keys: list[str], use_l1: bool = True) -> dict[str, Entry]:
        """The entries present (fresh or stale): fresh ones from the L1, the rest in one round trip.

        ``use_l1=False`` asks Redis only: for what another worker may have just written.
        """
        if not keys:
            return {}
        now = time.time()
        found = {}
        if self._l1 is not None and use_l1:
            found = {key: entry for key in keys if (entry := self._l1.get(key, now)) is not None}
        asked = [key for key in keys if key not in found]
        if asked:
            raw = self._run(lambda backend: backend.get_many(*asked))
            for key, value in zip(asked, raw):
                entry = Entry.load(value)
                if entry is not None:
                    found[key] = entry
                    if self._l1 is not None:
                        self._l1.put(key, entry, now)
        return found

    def set_many(self, entries: Mapping[str, Entry], keep_for: int) -> None:
        """Store entries for ``keep_for`` seconds (their TTL plus the stale window)."""
        if entries:
            payload = {key: entry.dump() for key, entry in entries.items()}
            self._run(lambda backend: backend.set_many(payload, timeout=keep_for))
            if self._l1 is not None:
                now = time.time()
                for key, entry in entries.items():
                    self._l1.put(key, entry, now)
