"""The cached data classes, one row each: everything opitios knows about caching one kind of answer.

A row names the class (its metrics label, its ``cache_ttl`` settings ``<name>_open`` and
``<name>_closed``, its interest key), builds its cache keys, gives its default TTLs, says whether
hot keys are refreshed ahead and kept fresh by the stream, names the answers' ``data_source``, and
renders the provider's value into the answer's data once, when the entry is written (the REST path
and the stream alike). The runtime configuration's ``cache_ttl`` section is generated from these
rows (``opitios.runtime.schema``), which checks their defaults at import. Code refers to a row by
its Python name (``STOCK_QUOTE``), so a misspelt class fails at import, never at request time.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from opitios.cache import Entry
from opitios.schemas.bars import BarsSchema
from opitios.schemas.options import ChainSchema, OptionQuoteSchema
from opitios.schemas.quotes import StockQuoteSchema
from opitios.symbols import contract_identity

# The data_source of answers that are never cached, and what every answer says under OPITIOS_DEMO,
# whose upstream is the offline sandbox: no demo answer may carry a real-time label.
TRADING_DATA_SOURCE = "alpaca_trading"
DEMO_DATA_SOURCE = "sandbox_synthetic"
DEMO_PROVIDER = "sandbox"

INTRADAY = ("Min", "Hour")  # timeframes whose bars are cached as bars_intraday
CHAIN_FILTERS = ("expiration_date", "expiration_date_gte", "expiration_date_lte", "option_type", "min_strike", "max_strike")


@dataclass(frozen=True)
class DataClass:
    name: str
    key: Callable[[Any, str], str]  # (what is asked for: a symbol or a page's query, feed) → cache key
    ttl_open: int  # default seconds fresh while the market is open (or its state is unknown)
    ttl_closed: int  # ... and while it is closed
    data_source: str  # what answers of this class name as their source (CONTRACT §2)
    render: Callable[[Any, Any], Any]  # (what was asked for, the provider's value) → the answer's data
    stamp: Callable[[Any], str | None]  # the provider's value → the upstream's own timestamp of the datum
    # Asked for by symbol, misses merged into one multi-symbol call: hot keys are fetched again before their TTL ends.
    refreshed_ahead: bool = False
    streamed: bool = False  # the stream (``opitios stream``) can keep hot keys fresh

    def setting(self, market_status: str) -> str:
        """The ``cache_ttl`` setting in force for ``market_status``; unknown gets the (shorter) open-market TTL."""
        return f"{self.name}_{'closed' if market_status == 'closed' else 'open'}"

    def ttl(self, market_status: str, ttls: Mapping[str, int]) -> int:
        return ttls[self.setting(market_status)]

    def entry(self, asked: Any, value: Any, fetched_at: float, ttl: float, source: str = "rest") -> Entry:
        """The cache entry for the provider's ``value`` (``None``: the upstream has no data for ``asked``)."""
        if value is None:
            return Entry(None, None, fetched_at, ttl, source)
        return Entry(self.render(asked, value), self.stamp(value), fetched_at, ttl, source)


# -- keys ------------------------------------------------------------------------------------------


def _digest(query: Mapping[str, Any]) -> str:
    canonical = json.dumps(query, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _stock_quote_key(symbol: str, feed: str) -> str:
    return f"quote:stock:{symbol}:{feed}"


def _option_quote_key(symbol: str, feed: str) -> str:
    return f"quote:option:{symbol}:{feed}"


def _bars_key(query: Mapping[str, Any], feed: str) -> str:
    return f"bars:{query['symbol']}:{query['timeframe']}:{feed}:{_digest(query)}"


def _chain_key(query: Mapping[str, Any], feed: str) -> str:
    return f"chain:{query['underlying_symbol']}:{feed}:{_digest(query)}"


# -- the datum's own time ------------------------------------------------------------------------------


def quote_timestamp(quote: Mapping[str, Any]) -> str | None:
    """The quote's time, or the trade's when there is no quote."""
    return quote.get("quote_timestamp") or quote.get("trade_timestamp")


def oldest(timestamps: Iterable[str | None]) -> str | None:
    """The oldest of the upstream timestamps (so freshness is never overstated), as the upstream wrote it."""
    present = [text for text in timestamps if text]
    return min(present, key=datetime.fromisoformat) if present else None


def _newest_bar_time(page: Mapping[str, Any]) -> str | None:
    return page["bars"][-1]["timestamp"] if page["bars"] else None  # bars come oldest first


def _oldest_quote_time(page: Mapping[str, Any]) -> str | None:
    return oldest(quote_timestamp(quote) for quote in page["contracts"])


# -- the answers' data ------------------------------------------------------------------------------------

_stock_quote = StockQuoteSchema()
_option_quote = OptionQuoteSchema()
_bars = BarsSchema()
_chain = ChainSchema()


def _identified(quote: Mapping[str, Any]) -> dict:
    """An option quote with the contract's identity, which the OCC symbol itself carries."""
    return {**quote, **contract_identity(quote["symbol"])}


def _page_info(page: Mapping[str, Any]) -> dict:
    token = page["next_page_token"]
    return {"has_more": token is not None, "next_page_token": token}


def _render_stock_quote(symbol: str, quote: Mapping[str, Any]) -> dict:
    return _stock_quote.dump(quote)


def _render_option_quote(symbol: str, quote: Mapping[str, Any]) -> dict:
    return _option_quote.dump(_identified(quote))


def _render_bars(query: Mapping[str, Any], page: Mapping[str, Any]) -> dict:
    bars = page["bars"]
    return _bars.dump({"symbol": page["symbol"], "timeframe": page["timeframe"], "bars": bars, "count": len(bars),
                       "page_info": _page_info(page)})


def _render_chain(query: Mapping[str, Any], page: Mapping[str, Any]) -> dict:
    contracts = [_identified(quote) for quote in page["contracts"]]
    return _chain.dump(
        {
            "underlying_symbol": query["underlying_symbol"],
            "expiration_dates": sorted({contract["expiration_date"] for contract in contracts}),
            "contracts": contracts,
            "count": len(contracts),
            "filters_applied": {name: query[name] for name in CHAIN_FILTERS if query.get(name) is not None},
            "page_info": _page_info(page),
        }
    )


# -- the table ----------------------------------------------------------------------------------------------

STOCK_QUOTE = DataClass(
    "stock_quote", _stock_quote_key, 5, 300, "alpaca_real_time", _render_stock_quote, quote_timestamp,
    refreshed_ahead=True, streamed=True,
)
OPTION_QUOTE = DataClass(
    "option_quote", _option_quote_key, 15, 300, "alpaca_options_real_time", _render_option_quote, quote_timestamp,
    refreshed_ahead=True,
)
OPTION_CHAIN = DataClass("option_chain", _chain_key, 60, 900, "alpaca_options_chain", _render_chain, _oldest_quote_time)
BARS_INTRADAY = DataClass("bars_intraday", _bars_key, 60, 3600, "alpaca_historical", _render_bars, _newest_bar_time)
BARS_DAILY = DataClass("bars_daily", _bars_key, 3600, 86400, "alpaca_historical", _render_bars, _newest_bar_time)



def _table(*rows: DataClass) -> dict[str, DataClass]:
    table: dict[str, DataClass] = {}
    for row in rows:
        if not row.name.isidentifier() or row.name in table:
            raise ValueError(f"data class name {row.name!r}: each row needs a name of its own that can name a setting")
        table[row.name] = row
    return table


DATA_CLASSES = _table(STOCK_QUOTE, OPTION_QUOTE, OPTION_CHAIN, BARS_INTRADAY, BARS_DAILY)
# The data_source values of cached answers, each once, in the table's order.
MARKET_DATA_SOURCES: tuple[str, ...] = tuple(dict.fromkeys(row.data_source for row in DATA_CLASSES.values()))


def bars_class(timeframe: str) -> DataClass:
    """Minute and hour bars change all day; daily, weekly and monthly ones far less often."""
    return BARS_INTRADAY if timeframe.endswith(INTRADAY) else BARS_DAILY
