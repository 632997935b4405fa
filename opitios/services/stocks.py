"""Stock quotes and bars: validated arguments → cache → provider → data with provenance."""

from __future__ import annotations

from opitios.api_errors import ApiError
from opitios.data_classes import STOCK_QUOTE, bars_class
from opitios.services.results import MarketDataService, Result, not_found

BARS_QUERY = ("symbol", "timeframe", "start", "end", "limit", "page_token")


def _symbol_not_found(symbol: str) -> ApiError:
    return not_found("SYMBOL_NOT_FOUND", "symbol", symbol)


class StockService(MarketDataService):
    """Stock quotes (one or many symbols, one upstream call for the misses) and pages of bars."""

    feed_kind = "stock"

    def quote(self, symbol: str) -> Result:
        return self._quote(STOCK_QUOTE, symbol, self._provider.stock_quotes, _symbol_not_found)

    def quotes(self, symbols: list[str], max_age_seconds: int | None = None) -> Result:
        """A batch; entries older than ``max_age_seconds`` in the cache count as misses."""
        return self._batch(STOCK_QUOTE, symbols, self._provider.stock_quotes, _symbol_not_found, max_age_seconds)

    def bars(self, args: dict) -> Result:
        query = {name: args[name] for name in BARS_QUERY}
        data_class = bars_class(query["timeframe"])
        answer = self._cached.page(data_class, query, self._feed, self._provider.stock_bars)
        if not answer.entry.value["count"]:
            raise ApiError(
                "HISTORICAL_DATA_UNAVAILABLE",
                f"No {args['timeframe']} bars for {args['symbol']} in the requested range",
                details={"symbol": args["symbol"], "timeframe": args["timeframe"], "start": args["start"], "end": args["end"]},
            )
        return self._answer(data_class, answer)
