"""Stock quotes and bars: validated arguments → provider → data with provenance."""

from __future__ import annotations

from opitios.envelope import Result
from opitios.errors import ApiError
from opitios.schemas.bars import BarsSchema
from opitios.schemas.quotes import StockQuoteSchema
from opitios.services.results import BARS, STOCK_QUOTES, MarketDataService, batch, not_found, quote_timestamp

_quote_schema = StockQuoteSchema()
_bars_schema = BarsSchema()


def _symbol_not_found(symbol: str) -> ApiError:
    return not_found("SYMBOL_NOT_FOUND", "symbol", symbol)


class StockService(MarketDataService):
    """Stock quotes (one or many symbols, one upstream call) and pages of bars."""

    feed_kind = "stock"

    def quote(self, symbol: str) -> Result:
        quote = self._provider.stock_quotes([symbol]).get(symbol)
        if quote is None:
            raise _symbol_not_found(symbol)
        return self._result(_quote_schema.dump(quote), STOCK_QUOTES, quote_timestamp(quote))

    def quotes(self, symbols: list[str], max_age_seconds: int | None = None) -> Result:
        self._check_batch(symbols)
        # max_age_seconds bounds the age of cached entries; every answer here is fetched now.
        found = self._provider.stock_quotes(symbols)
        data, data_timestamp = batch(symbols, found, _quote_schema.dump, _symbol_not_found)
        return self._result(data, STOCK_QUOTES, data_timestamp)

    def bars(self, args: dict) -> Result:
        page = self._provider.stock_bars(
            {name: args[name] for name in ("symbol", "timeframe", "start", "end", "limit", "page_token")}
        )
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
        return self._result(data, BARS, page["bars"][-1]["timestamp"])  # bars come oldest first
