"""What a service hands a route (``Result``), and the pieces every market-data service shares."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from opitios.api_errors import ApiError
from opitios.cache import etag_of
from opitios.data_classes import DataClass, oldest
from opitios.json_bytes import to_json
from opitios.runtime.refresh import RuntimeConfig
from opitios.services.cached import Answer, CachedFetch
from opitios.services.clock import MarketClock
from providers.base import MarketDataProvider


@dataclass(frozen=True)
class Result:
    """An answer's data, already JSON, and where it came from: all a route needs to render the envelope."""

    body: bytes
    data_source: str
    provider: str
    data_timestamp: str | None  # the upstream's own timestamp string of the datum
    market_status: str
    # Market data only (``cache`` is "none" for what is never cached, like the broker's answers):
    cache: str = "none"  # "hit", "miss" or "stale"
    etag: str | None = None  # a strong validator of ``body``
    feed: str | None = None
    max_age: int = 0  # seconds an intermediary may keep the answer
    source: str = "rest"  # how the upstream's data reached us: a REST call, the stream, or both ("mixed")
    replayed: bool | None = None  # order placement only: the order existed already

    @property
    def cached(self) -> bool:
        return self.cache != "none"


def not_found(code: str, what: str, symbol: str) -> ApiError:
    return ApiError(code, f"No real market data for {what} {symbol}", details={"symbol": symbol})


def batch(requested: list[str], answers: Mapping[str, Answer], missing: Callable[[str], ApiError]) -> tuple[dict, str | None]:
    """The batch answer: one entry per requested symbol in order, errors in place, and a summary."""
    entries = []
    for symbol in requested:
        entry = answers[symbol].entry
        if entry.has_data:
            entries.append({"symbol": symbol, "status": "success", **entry.value})
        else:
            error = missing(symbol)
            entries.append({"symbol": symbol, "status": "error", "error": {"code": error.code, "message": error.message}})
    successful = sum(1 for entry in entries if entry["status"] == "success")
    data = {
        "quotes": entries,
        "summary": {"total_requested": len(requested), "successful": successful, "failed": len(requested) - successful},
    }
    return data, oldest(answer.entry.data_timestamp for answer in answers.values() if answer.entry.has_data)


class MarketDataService:
    """A service over one provider; ``feed_kind`` names which of its feeds the answers come from."""

    feed_kind = "stock"

    def __init__(self, provider: MarketDataProvider, clock: MarketClock, config: RuntimeConfig, cached: CachedFetch):
        self._provider = provider
        self._clock = clock
        self._config = config
        self._cached = cached

    @property
    def _feed(self) -> str:
        return self._provider.feeds()[self.feed_kind]

    def _quote(self, data_class: DataClass, symbol: str, fetch: Callable, missing: Callable[[str], ApiError]) -> Result:
        """One symbol's answer (``missing(symbol)`` when the upstream has no data for it)."""
        answer = self._cached.quotes(data_class, [symbol], self._feed, fetch)[symbol]
        if not answer.entry.has_data:
            raise missing(symbol)
        return self._answer(data_class, answer)

    def _batch(self, data_class: DataClass, symbols: list[str], fetch: Callable, missing: Callable[[str], ApiError],
               max_age_seconds: int | None = None) -> Result:
        """A batch answer (its size checked where the route loads its arguments); entries older than ``max_age_seconds`` count as misses."""
        answers = self._cached.quotes(data_class, symbols, self._feed, fetch, max_age_seconds)
        data, data_timestamp = batch(symbols, answers, missing)
        return self._combined(data_class, data, data_timestamp, answers.values())

    def _answer(self, data_class: DataClass, answer: Answer) -> Result:
        """One cached answer as it is: its data's bytes and ETag were made when it was stored."""
        entry = answer.entry
        return self._result(data_class, entry.body, entry.etag, entry.data_timestamp, [answer])

    def _combined(self, data_class: DataClass, data: dict, data_timestamp: str | None, answers: Iterable[Answer]) -> Result:
        """An answer made of several cached ones (a batch): serialized and validated here, once."""
        body = to_json(data)
        return self._result(data_class, body, etag_of(body), data_timestamp, answers)

    def _result(self, data_class: DataClass, body: bytes, etag: str | None, data_timestamp: str | None,
                answers: Iterable[Answer]) -> Result:
        answers = list(answers)
        cache, max_age = provenance(answers)
        return Result(
            body=body,
            data_source=data_class.data_source,
            provider=self._provider.name,
            data_timestamp=data_timestamp,
            market_status=self._clock.status(),
            cache=cache,
            etag=etag,
            feed=self._feed,
            max_age=max_age,
            source=origin(answers),
        )


def provenance(answers: Iterable[Answer]) -> tuple[str, int]:
    """The answer's cache status (stale if any part is, else miss if any part is) and its remaining TTL."""
    answers = list(answers)
    statuses = {answer.status for answer in answers}
    status = "stale" if "stale" in statuses else "miss" if "miss" in statuses else "hit"
    if status == "stale":
        return status, 0
    now = time.time()
    return status, min(answer.entry.remaining(now) for answer in answers)


def origin(answers: Iterable[Answer]) -> str:
    """Where the answer's data came from: ``rest`` or ``stream``, or ``mixed`` when a batch's quotes came from both.

    Only entries with data count: "no data for this symbol" is always the REST answer.
    """
    sources = {answer.entry.source for answer in answers if answer.entry.has_data}
    if not sources:
        return "rest"
    return sources.pop() if len(sources) == 1 else "mixed"
