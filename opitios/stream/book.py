"""What the stream said about each subscribed symbol, merged with REST snapshots into cache entries.

A stock quote answer has three parts that the stream pushes separately: bid/ask (quotes), last
(trades) and volume (daily bars). A part the stream has pushed since the subscription stays
current while the stream is healthy: it would have pushed anything newer. A part it has not
pushed yet can only come from the REST snapshot in the cache, and only while that snapshot is
within its own TTL. An entry is made only when every part is one or the other; nothing is filled
in, and every value and timestamp is the upstream's own.
"""

from __future__ import annotations

from dataclasses import dataclass

from opitios.cache import Entry
from opitios.data_classes import STOCK_QUOTE
from providers.base import QUOTE_PARTS, StreamUpdate


@dataclass(frozen=True)
class _Part:
    fields: dict
    rest_until: float | None  # None: pushed by the stream; else the REST snapshot's end of freshness


class QuoteBook:
    def __init__(self) -> None:
        self._parts: dict[str, dict[str, _Part]] = {}
        self._seeded: dict[str, float] = {}  # fetched_at of the REST entry a symbol last took parts from
        self._dirty: set[str] = set()
        self._written: dict[str, float] = {}  # when a symbol was last looked at for writing

    def follow(self, symbols: set[str]) -> None:
        """Track exactly these symbols; what was said about the others is forgotten."""
        for gone in set(self._parts) - symbols:
            del self._parts[gone]
            self._seeded.pop(gone, None)
            self._written.pop(gone, None)
            self._dirty.discard(gone)
        for symbol in symbols - set(self._parts):
            self._parts[symbol] = {}

    def clear(self) -> None:
        """The stream went away: nothing it said before is vouched for any more."""
        self.follow(set())

    def heard(self, update: StreamUpdate) -> bool:
        """Take a pushed part of a tracked symbol; False for a symbol no longer tracked."""
        parts = self._parts.get(update.symbol)
        if parts is None or update.part not in QUOTE_PARTS:
            return False
        parts[update.part] = _Part(dict(update.fields), None)
        self._dirty.add(update.symbol)
        return True

    def needs_rest(self, symbol: str) -> bool:
        """Whether some part of ``symbol`` has not been pushed by the stream yet."""
        parts = self._parts.get(symbol, {})
        return any(name not in parts or parts[name].rest_until is not None for name in QUOTE_PARTS)

    def seed(self, symbol: str, entry: Entry) -> None:
        """Take the parts the stream has not pushed from a REST snapshot in the cache (a newer one than last time)."""
        parts = self._parts.get(symbol)
        if parts is None or entry.source != "rest" or not entry.has_data:
            return
        if entry.fetched_at <= self._seeded.get(symbol, 0.0):
            return
        self._seeded[symbol] = entry.fetched_at
        for name, fields in QUOTE_PARTS.items():
            if name not in parts or parts[name].rest_until is not None:
                parts[name] = _Part({field: entry.value.get(field) for field in fields}, entry.fetched_at + entry.ttl)
        self._dirty.add(symbol)

    def due(self, now: float, every: float) -> list[str]:
        """Symbols to (re)write now: those with news, and those not looked at for ``every`` seconds."""
        return sorted(s for s in self._parts if s in self._dirty or now - self._written.get(s, 0.0) >= every)

    def looked_at(self, symbols: list[str], now: float) -> None:
        for symbol in symbols:
            self._written[symbol] = now
            self._dirty.discard(symbol)

    def entry(self, symbol: str, now: float, vouch_seconds: float) -> Entry | None:
        """The cache entry the stream vouches for, for ``vouch_seconds`` at most; None while a part is missing or too old."""
        parts = self._parts.get(symbol, {})
        if any(name not in parts for name in QUOTE_PARTS):
            return None
        if all(part.rest_until is not None for part in parts.values()):
            return None  # nothing from the stream yet: the REST entry already says all of it
        ttl = vouch_seconds
        for part in parts.values():
            if part.rest_until is not None:
                ttl = min(ttl, part.rest_until - now)
        if ttl <= 0:
            return None
        value = {"symbol": symbol}
        for name in QUOTE_PARTS:
            value.update(parts[name].fields)
        return STOCK_QUOTE.entry(symbol, value, now, ttl, source="stream")
