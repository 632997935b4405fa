"""The provider interface, its normalized result types and the errors a provider may raise.

A provider turns one gateway question into as few upstream calls as possible
(many symbols → one call), fetches the raw answer and maps it onto the plain,
JSON-safe shapes below. Every value it returns is an upstream value, passed
through or renamed: a provider never computes, fills in or invents one. A value
the upstream did not send is ``None``. A symbol the upstream knows nothing
about is simply left out of the result; the service layer turns that into the
contract's not-found answer.

A provider is registered under the ``opitios.providers`` entry-point group by
an object that is called with the upstream settings (a mapping, see
``opitios.config.PROVIDER_SETTINGS``) and returns an instance of this
interface.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypedDict

# The monotonic time by which the gateway needs the upstream's answer (retries included).
# A provider gives each upstream call at most the time left, so retries never stretch a
# client's wait past the configured upstream timeout. None: the provider's own timeout.
UPSTREAM_DEADLINE: ContextVar[float | None] = ContextVar("opitios_upstream_deadline", default=None)


class StockQuote(TypedDict):
    """Latest quote, latest trade and the day's volume of one stock, as the upstream sent them."""

    symbol: str
    bid_price: float | None
    bid_size: float | None
    ask_price: float | None
    ask_size: float | None
    last_price: float | None
    last_size: float | None
    volume: float | None
    quote_timestamp: str | None  # the upstream's own RFC 3339 string, unchanged
    trade_timestamp: str | None


class Greeks(TypedDict):
    delta: float | None
    gamma: float | None
    theta: float | None
    vega: float | None
    rho: float | None


class OptionQuote(TypedDict):
    """Latest quote, trade, IV and greeks of one option contract, as the upstream sent them."""

    symbol: str
    bid_price: float | None
    bid_size: float | None
    ask_price: float | None
    ask_size: float | None
    last_price: float | None
    last_size: float | None
    implied_volatility: float | None
    greeks: Greeks | None  # None when the upstream sent no greeks at all
    quote_timestamp: str | None
    trade_timestamp: str | None


class Bar(TypedDict):
    timestamp: str  # bucket start, the upstream's string
    open: float | None
    high: float | None
    low: float | None
    close: float | None
    volume: float | None
    trade_count: float | None
    vwap: float | None


class BarsPage(TypedDict):
    """One page of bars, oldest first, and the upstream's token for the next page."""

    symbol: str
    timeframe: str
    bars: list[Bar]
    next_page_token: str | None


class BarsQuery(TypedDict):
    symbol: str
    timeframe: str  # one of the contract's timeframes, e.g. "5Min"
    start: str | None  # RFC 3339 datetime or YYYY-MM-DD, already validated
    end: str | None
    limit: int
    page_token: str | None


class ChainQuery(TypedDict):
    underlying_symbol: str
    expiration_date: str | None
    expiration_date_gte: str | None
    expiration_date_lte: str | None
    option_type: str | None  # "call" or "put"
    min_strike: str | None  # decimal strings, passed on exactly as given
    max_strike: str | None
    limit: int
    page_token: str | None


class ChainPage(TypedDict):
    underlying_symbol: str
    contracts: list[OptionQuote]  # ordered by contract symbol
    next_page_token: str | None


class MarketClock(TypedDict):
    is_open: bool
    timestamp: datetime
    next_open: datetime
    next_close: datetime


# The parts of a stock quote that a stream pushes separately, and the StockQuote fields each one carries:
# bid/ask from the latest quote, last from the latest trade, volume from the day's bar.
QUOTE_PARTS: dict[str, tuple[str, ...]] = {
    "quote": ("bid_price", "bid_size", "ask_price", "ask_size", "quote_timestamp"),
    "trade": ("last_price", "last_size", "trade_timestamp"),
    "daily": ("volume",),
}


@dataclass(frozen=True)
class StreamUpdate:
    """One pushed datum: one part of one symbol's quote, as the upstream sent it."""

    symbol: str
    part: str  # a key of QUOTE_PARTS
    fields: dict[str, Any]  # exactly that part's fields
    timestamp: str | None  # the upstream's own timestamp string (a daily bar's is the day's start)


@dataclass(frozen=True)
class StreamSubscription:
    """The upstream confirmed a subscription: the symbols every quote part now streams for."""

    symbols: frozenset[str]


@dataclass(frozen=True)
class StreamNotice:
    """An error the upstream reported on an open stream that leaves it open (e.g. a symbol limit)."""

    code: int | None
    message: str


class QuoteStream(Protocol):
    """An open, authenticated market-data stream of stock quotes, trades and daily bars."""

    async def subscribe(self, symbols: list[str]) -> None:
        """Add symbols on every channel the quote parts come from; confirmed by a StreamSubscription."""

    async def unsubscribe(self, symbols: list[str]) -> None:
        """Remove symbols; confirmed by a StreamSubscription."""

    def events(self) -> AsyncIterator[StreamUpdate | StreamSubscription | StreamNotice]:
        """What the upstream pushes, in order; ends by raising StreamUnavailable when the connection goes."""


class MarketDataProvider(Protocol):
    """What the gateway asks of a market-data provider."""

    name: str

    def describe(self) -> dict[str, Any]:
        """Non-secret facts for ``/health``: upstream URLs, feeds, paper or live, configured or not."""

    def feeds(self) -> dict[str, str]:
        """The feed names answers come from: ``{"stock": ..., "option": ...}``."""

    def stock_quotes(self, symbols: list[str]) -> dict[str, StockQuote]:
        """Quotes for many stock symbols in one upstream call; unknown symbols are left out."""

    def stock_bars(self, query: BarsQuery) -> BarsPage:
        """One page of bars for one symbol, at exactly the requested timeframe."""

    def option_quotes(self, symbols: list[str]) -> dict[str, OptionQuote]:
        """Quotes for many OCC contract symbols in one upstream call; unknown ones are left out."""

    def option_chain(self, query: ChainQuery) -> ChainPage:
        """One page of an underlying's chain, with every filter applied by the upstream."""

    def market_clock(self) -> MarketClock:
        """The upstream's market clock."""

    # Optional: a provider that can push quotes also offers
    # ``quote_stream() -> AsyncContextManager[QuoteStream]`` (connected and authenticated on entry).


class OrderRequest(TypedDict, total=False):
    """An order as the gateway validated it; numbers are exact decimal strings."""

    symbol: str
    asset_class: str  # "us_equity" or "us_option"
    qty: str
    side: str
    type: str
    time_in_force: str
    limit_price: str
    stop_price: str
    client_order_id: str


class TradingProvider(Protocol):
    """What the gateway asks of a broker. Every object is returned as the broker sent it."""

    def account(self) -> dict[str, Any]:
        """The trading account."""

    def positions(self) -> list[dict[str, Any]]:
        """Open positions."""

    def orders(self, status: str, limit: int) -> list[dict[str, Any]]:
        """Orders by status (``open``, ``closed``, ``all``), newest first."""

    def order(self, order_id: str) -> dict[str, Any]:
        """One order; ``OrderNotFound`` when the broker has none with that id."""

    def order_by_client_id(self, client_order_id: str) -> dict[str, Any]:
        """The order placed with that ``client_order_id``; ``OrderNotFound`` otherwise."""

    def place_order(self, order: OrderRequest) -> dict[str, Any]:
        """Place it once (never retried); ``DuplicateClientOrderId`` when the id was used, ``OrderRejected`` when refused."""

    def cancel_order(self, order_id: str) -> None:
        """Ask the broker to cancel; ``OrderRejected`` when it cannot be canceled any more."""


class ProviderError(Exception):
    """An upstream problem, named by the contract's error code it becomes."""

    code = "UPSTREAM_SERVICE_ERROR"

    def __init__(self, message: str, *, retry_after: int | None = None, details: dict | None = None):
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after
        self.details = details or {}


class UpstreamNotConfigured(ProviderError):
    code = "UPSTREAM_NOT_CONFIGURED"


class UpstreamAuthenticationFailed(ProviderError):
    code = "UPSTREAM_AUTHENTICATION_FAILED"


class UpstreamRateLimited(ProviderError):
    code = "UPSTREAM_RATE_LIMITED"


class UpstreamTimeout(ProviderError):
    code = "UPSTREAM_TIMEOUT"


class UpstreamServiceError(ProviderError):
    code = "UPSTREAM_SERVICE_ERROR"


class UpstreamInvalidResponse(ProviderError):
    code = "UPSTREAM_INVALID_RESPONSE"


class UpstreamRejectedRequest(ProviderError):
    """The upstream refused the parameters we sent (its 400/422)."""

    code = "INVALID_PARAMETER"


class OrderRejected(ProviderError):
    """The broker refused the order or the cancellation; the message is its reason."""

    code = "ORDER_REJECTED"


class OrderNotFound(ProviderError):
    code = "ORDER_NOT_FOUND"


class DuplicateClientOrderId(OrderRejected):
    """The ``client_order_id`` was used before: the existing order is the answer."""


class StreamUnavailable(Exception):
    """The stream could not be opened or went away (connection refused, dropped, timed out)."""


class StreamRefused(StreamUnavailable):
    """The upstream refused the stream with one of its error codes (auth failed, connection limit, …)."""

    def __init__(self, code: int | None, message: str):
        super().__init__(f"{message} ({code})")
        self.code = code
        self.message = message


class StreamConnectionLimit(StreamRefused):
    """Another connection already holds the account's one stream (Alpaca's 406): back off, do not fight."""
