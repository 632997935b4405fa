"""Pieces every market-data service shares: provenance names, batch answers, the age of a datum."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import datetime

from opitios.envelope import Result
from opitios.errors import ApiError
from opitios.runtime.refresh import RuntimeConfig
from opitios.services.cached import Answer, CachedFetch
from opitios.services.clock import MarketClock
from providers.base import MarketDataProvider

# data_source values kept from the original service so old clients keep parsing (CONTRACT §2).
STOCK_QUOTES = "alpaca_real_time"
OPTION_QUOTES = "alpaca_options_real_time"
OPTION_CHAIN = "alpaca_options_chain"
BARS = "alpaca_historical"


def quote_timestamp(quote: dict) -> str | None:
    """The datum's own time: the quote's, or the trade's when there is no quote."""
    return quote.get("quote_timestamp") or quote.get("trade_timestamp")


def oldest(timestamps: Iterable[str | None]) -> str | None:
    """The oldest of the upstream timestamps (so freshness is never overstated), as the upstream wrote it."""
    present = [text for text in timestamps if text]
    return min(present, key=datetime.fromisoformat) if present else None


def not_found(code: str, what: str, symbol: str) -> ApiError:
    return ApiError(code, f"No real market data for {what} {symbol}", details={"symbol": symbol})


def batch(
    requested: list[str],
    found: dict[str, dict],
    dump: Callable[[dict], dict],
    missing: Callable[[str], ApiError],
) -> tuple[dict, str | None]:
    """The batch answer: one entry per requested symbol in order, errors in place, and a summary."""
    entries = []
    for symbol in requested:
        quote = found.get(symbol)
        if quote is None:
            error = missing(symbol)
            entries.append({"symbol": symbol, "status": "error", "error": {"code": error.code, "message": error.message}})
        else:
            entries.append({"symbol": symbol, "status": "success", **dump(quote)})
    successful = sum(1 for entry in entries if entry["status"] == "success")
    data = {
        "quotes": entries,
        "summary": {"total_requested": len(requested), "successful": successful, "failed": len(requested) - successful},
    }
    return data, oldest(quote_timestamp(quote) for quote in found.values() if quote["symbol"] in requested)


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

    def _result(self, data: dict, source: str, data_timestamp: str | None, answers: Iterable[Answer]) -> Result:
        answers = list(answers)
        cache, max_age = provenance(answers)
        return Result(
            data=data,
            data_source=source,
            provider=self._provider.name,
            feed=self._feed,
            data_timestamp=data_timestamp,
            market_status=self._clock.status(),
            cache=cache,
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
    answers = list(answers)
    sources = {answer.entry.source for answer in answers if answer.entry.value is not None}
    if not sources:
        return "rest"
    return sources.pop() if len(sources) == 1 else "mixed"
