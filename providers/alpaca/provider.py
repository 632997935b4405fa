"""AlpacaProvider: the gateway's questions → one alpaca-py call each → normalized answers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from alpaca.data.enums import DataFeed, OptionsFeed
from alpaca.data.requests import OptionSnapshotRequest, StockSnapshotRequest

from providers.alpaca import wire
from providers.alpaca.clients import AlpacaClients, base_urls, build_clients
from providers.alpaca.errors import translated
from providers.alpaca.stream import STREAM_URL, AlpacaQuoteStream
from providers.alpaca.trading import AlpacaTrading
from providers.base import (
    BarsPage,
    BarsQuery,
    ChainPage,
    ChainQuery,
    MarketClock,
    OptionQuote,
    StockQuote,
    UpstreamNotConfigured,
)

# Alpaca's bar history begins in 2016. Asked for bars without a start, Alpaca
# starts at today's open, so "the most recent N bars" is asked for as: from the
# beginning of history, newest first, N of them.
HISTORY_START = "2016-01-01"


class AlpacaProvider(AlpacaTrading):
    """Market data and trading from Alpaca through alpaca-py; clients are built once, here, and reused."""

    name = "alpaca"

    def __init__(self, settings: Mapping[str, Any]):
        self._stock_feed = settings["ALPACA_STOCK_FEED"]
        self._option_feed = settings["ALPACA_OPTION_FEED"]
        self._paper = settings["ALPACA_PAPER"]
        self._data_url, self._trading_url = base_urls(
            settings.get("ALPACA_DATA_URL"), settings.get("ALPACA_TRADING_URL"), self._paper
        )
        self._stream_url = (settings.get("ALPACA_STREAM_URL") or STREAM_URL).rstrip("/")
        self._timeout = settings["OPITIOS_UPSTREAM_TIMEOUT"]
        self._clients: AlpacaClients | None = None
        self._credentials: tuple[str, str] | None = None
        if settings.get("ALPACA_API_KEY") and settings.get("ALPACA_SECRET_KEY"):
            self._credentials = (settings["ALPACA_API_KEY"], settings["ALPACA_SECRET_KEY"])
            self._clients = build_clients(
                settings["ALPACA_API_KEY"],
                settings["ALPACA_SECRET_KEY"],
                paper=self._paper,
                data_url=self._data_url,
                trading_url=self._trading_url,
                timeout=settings["OPITIOS_UPSTREAM_TIMEOUT"],
            )

    @property
    def clients(self) -> AlpacaClients:
        if self._clients is None:
            raise _not_configured()
        return self._clients

    def describe(self) -> dict[str, Any]:
        return {
            "configured": self._clients is not None,
            "paper": self._paper,
            "data_url": self._data_url,
            "trading_url": self._trading_url,
            "stream_url": self._stream_url,
            "feeds": self.feeds(),
        }

    def feeds(self) -> dict[str, str]:
        return {"stock": self._stock_feed, "option": self._option_feed}

    def quote_stream(self) -> AlpacaQuoteStream:
        """The stock feed's market-data stream (``{stream_url}/v2/{feed}``), to be entered with ``async with``."""
        if self._credentials is None:
            raise _not_configured()
        key, secret = self._credentials
        return AlpacaQuoteStream(f"{self._stream_url}/v2/{self._stock_feed}", key, secret, self._timeout)

    def stock_quotes(self, symbols: list[str]) -> dict[str, StockQuote]:
        request = StockSnapshotRequest(symbol_or_symbols=symbols, feed=DataFeed(self._stock_feed))
        with translated("stock snapshots"):
            body = self.clients.stock.get_stock_snapshot(request)
            return wire.snapshot_map(body, wire.stock_quote)

    def option_quotes(self, symbols: list[str]) -> dict[str, OptionQuote]:
        request = OptionSnapshotRequest(symbol_or_symbols=symbols, feed=OptionsFeed(self._option_feed))
        with translated("option snapshots"):
            body = self.clients.option.get_option_snapshot(request)
            return wire.snapshot_map(body, wire.option_quote)

    def stock_bars(self, query: BarsQuery) -> BarsPage:
        newest_first = query["start"] is None
        params = {
            "symbols": query["symbol"],
            "timeframe": query["timeframe"],
            # An end before history began would put that start after it, which Alpaca refuses.
            "start": min(HISTORY_START, query["end"] or HISTORY_START) if newest_first else query["start"],
            "end": query["end"],
            "limit": query["limit"],
            "page_token": query["page_token"],
            "feed": self._stock_feed,
            "sort": "desc" if newest_first else "asc",
        }
        with translated("stock bars"):
            # One page per client request: the SDK's get_stock_bars would follow
            # every page and drop the token the client needs to continue.
            body = self.clients.stock.get("/stocks/bars", _present(params))
            page = wire.bars_page(body, query["symbol"], query["timeframe"])
        if newest_first:
            page["bars"].reverse()  # the contract answers oldest first
        return page

    def option_chain(self, query: ChainQuery) -> ChainPage:
        params = {
            "feed": self._option_feed,
            "type": query["option_type"],
            "strike_price_gte": query["min_strike"],
            "strike_price_lte": query["max_strike"],
            "expiration_date": query["expiration_date"],
            "expiration_date_gte": query["expiration_date_gte"],
            "expiration_date_lte": query["expiration_date_lte"],
            "limit": query["limit"],
            "page_token": query["page_token"],
        }
        underlying = query["underlying_symbol"]
        with translated("the option chain"):
            body = self.clients.option.get(f"/options/snapshots/{underlying}", _present(params))
            return wire.chain_page(body, underlying)

    def market_clock(self) -> MarketClock:
        with translated("the market clock"):
            return wire.market_clock(self.clients.trading.get_clock())


def _not_configured() -> UpstreamNotConfigured:
    return UpstreamNotConfigured("No Alpaca credentials are configured (ALPACA_API_KEY, ALPACA_SECRET_KEY)", retry_after=60)


def _present(params: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in params.items() if value is not None}
