"""Stock quotes and bars: validated arguments → cache → provider → data with provenance."""

from __future__ import annotations

from opitios.cache import bars_class, bars_key, stock_quote_key
from opitios.envelope import Result
from opitios.errors import ApiError
from opitios.schemas.bars import BarsSchema
from opitios.schemas.quotes import StockQuoteSchema
from opitios.services.cached import Answer
from opitios.services.results import BARS, STOCK_QUOTES, MarketDataService, batch, not_found, quote_timestamp

_quote_schema = StockQuoteSchema()
_bars_schema = BarsSchema()
BARS_QUERY = ("symbol", "timeframe", "start", "end", "limit", "page_token")


def _symbol_not_found(symbol: str) -> ApiError:
    return not_found("SYMBOL_NOT_FOUND", "symbol", symbol)


def _newest_bar_time(page: dict) -> str | None:
    return page["bars"][-1]["timestamp"] if page["bars"] else None  # bars come oldest first


class StockService(MarketDataService):
    """Stock quotes (one or many symbols, one upstream call for the misses) and pages of bars."""

    feed_kind = "stock"

    def _quotes(self, symbols: list[str], max_age: int | None = None) -> dict[str, Answer]:
        keys = {stock_quote_key(symbol, self._feed): symbol for symbol in symbols}
        answers = self._cached.many(keys, self._provider.stock_quotes, quote_timestamp, "stock_quote", max_age)
        return {keys[key]: answer for key, answer in answers.items()}

    def quote(self, symbol: str) -> Result:
        answer = self._quotes([symbol])[symbol]
        quote = answer.entry.value
        if quote is None:
            raise _symbol_not_found(symbol)
        return self._result(_quote_schema.dump(quote), STOCK_QUOTES, answer.entry.data_timestamp, [answer])

    def quotes(self, symbols: list[str], max_age_seconds: int | None = None) -> Result:
        """A batch; entries older than ``max_age_seconds`` in the cache count as misses."""
        answers = self._quotes(symbols, max_age_seconds)
        found = {symbol: answer.entry.value for symbol, answer in answers.items() if answer.entry.value is not None}
        data, data_timestamp = batch(symbols, found, _quote_schema.dump, _symbol_not_found)
        return self._result(data, STOCK_QUOTES, data_timestamp, answers.values())

    def bars(self, args: dict) -> Result:
        query = {name: args[name] for name in BARS_QUERY}
        key = bars_key(query, self._feed)
        answer = self._cached.many(
            {key: "page"}, lambda _: {"page": self._provider.stock_bars(query)}, _newest_bar_time, bars_class(query["timeframe"])
        )[key]
        page = answer.entry.value
        if not page["bars"]:
            raise ApiError(
                "HISTORICAL_DATA_UNAVAILABLE",
                f"No {args['timeframe']} bars for {args['symbol']} in the requested range",
                details={"symbol": args["symbol"], "timeframe": args["timeframe"], "start": args["start"], "end": args["end"]},
            )
        token = page["next_page_token"]
        data = _bars_schema.dump(
            {
                "symbol": page["symbol"],
                "timeframe": page["timeframe"],
                "bars": page["bars"],
                "count": len(page["bars"]),
                "page_info": {"has_more": token is not None, "next_page_token": token},
            }
        )
        return self._result(data, BARS, answer.entry.data_timestamp, [answer])
