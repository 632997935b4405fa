"""Alpaca's wire JSON → the normalized shapes of ``providers.base``, values passed through or renamed.

Two rules of the contract live here: a quote side Alpaca sends as price 0 is
no quote (``None``, never 0), and a key Alpaca left out is ``None``. Anything
whose type is not what Alpaca sends is an invalid upstream response, never
guessed at.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from providers.base import (
    Bar,
    BarsPage,
    ChainPage,
    Greeks,
    MarketClock,
    OptionQuote,
    StockQuote,
    StreamUpdate,
    UpstreamInvalidResponse,
)

GREEK_NAMES = ("delta", "gamma", "theta", "vega", "rho")


def _object(value: Any, what: str) -> dict:
    """An optional JSON object: absent or null becomes empty."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise UpstreamInvalidResponse(f"The upstream sent {what} that is not an object")
    return value


def _number(obj: dict, key: str) -> float | int | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UpstreamInvalidResponse(f"The upstream sent a non-numeric {key!r}")
    return value


def _timestamp(obj: dict, key: str = "t") -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise UpstreamInvalidResponse(f"The upstream sent a timestamp that is not a string ({key!r})")
    return value


def _side(quote: dict, price_key: str, size_key: str) -> tuple[Any, Any]:
    """One side of a quote; Alpaca marks a side with no quote as price 0."""
    price, size = _number(quote, price_key), _number(quote, size_key)
    if not price:
        return None, None
    return price, size


def _quote_fields(quote: dict, trade: dict) -> dict:
    bid_price, bid_size = _side(quote, "bp", "bs")
    ask_price, ask_size = _side(quote, "ap", "as")
    return {
        "bid_price": bid_price,
        "bid_size": bid_size,
        "ask_price": ask_price,
        "ask_size": ask_size,
        "last_price": _number(trade, "p"),
        "last_size": _number(trade, "s"),
    }


def _latest(symbol: str, snapshot: Any) -> tuple[dict, dict, dict] | None:
    """A snapshot's object, latest quote and latest trade; ``None`` when it has neither quote nor trade."""
    snapshot = _object(snapshot, f"a snapshot for {symbol}")
    quote = _object(snapshot.get("latestQuote"), "a latestQuote")
    trade = _object(snapshot.get("latestTrade"), "a latestTrade")
    if not quote and not trade:
        return None
    return snapshot, quote, trade


def stock_quote(symbol: str, snapshot: Any) -> StockQuote | None:
    """A stock snapshot → a quote; ``None`` when the upstream has neither a quote nor a trade."""
    latest = _latest(symbol, snapshot)
    if latest is None:
        return None
    snapshot, quote, trade = latest
    daily = _object(snapshot.get("dailyBar"), "a dailyBar")
    return {
        "symbol": symbol,
        **_quote_fields(quote, trade),
        "volume": _number(daily, "v"),
        "quote_timestamp": _timestamp(quote),
        "trade_timestamp": _timestamp(trade),
    }


def _greeks(value: Any) -> Greeks | None:
    if value is None:
        return None
    greeks = _object(value, "greeks")
    return {name: _number(greeks, name) for name in GREEK_NAMES}


def option_quote(symbol: str, snapshot: Any) -> OptionQuote | None:
    """An option snapshot → a quote; ``None`` when the upstream has neither a quote nor a trade."""
    latest = _latest(symbol, snapshot)
    if latest is None:
        return None
    snapshot, quote, trade = latest
    return {
        "symbol": symbol,
        **_quote_fields(quote, trade),
        "implied_volatility": _number(snapshot, "impliedVolatility"),
        "greeks": _greeks(snapshot.get("greeks")),
        "quote_timestamp": _timestamp(quote),
        "trade_timestamp": _timestamp(trade),
    }


def snapshot_map(body: Any, mapper) -> dict:
    """``{SYMBOL: snapshot}`` → ``{SYMBOL: quote}``, leaving out what the upstream had no data for."""
    body = _object(body, "a snapshot map")
    quotes = {}
    for symbol, snapshot in body.items():
        quote = mapper(symbol, snapshot)
        if quote is not None:
            quotes[symbol] = quote
    return quotes


def _bar(raw: Any) -> Bar:
    raw = _object(raw, "a bar")
    timestamp = _timestamp(raw)
    if timestamp is None:
        raise UpstreamInvalidResponse("The upstream sent a bar without a timestamp")
    return {
        "timestamp": timestamp,
        "open": _number(raw, "o"),
        "high": _number(raw, "h"),
        "low": _number(raw, "l"),
        "close": _number(raw, "c"),
        "volume": _number(raw, "v"),
        "trade_count": _number(raw, "n"),
        "vwap": _number(raw, "vw"),
    }


def _page_token(body: dict) -> str | None:
    token = body.get("next_page_token")
    if token is not None and not isinstance(token, str):
        raise UpstreamInvalidResponse("The upstream sent a page token that is not a string")
    return token or None


def bars_page(body: Any, symbol: str, timeframe: str) -> BarsPage:
    """A ``/v2/stocks/bars`` page for one symbol, in the upstream's order."""
    body = _object(body, "a bars page")
    per_symbol = _object(body.get("bars"), "a bars map")
    raw_bars = per_symbol.get(symbol) or []
    if not isinstance(raw_bars, list):
        raise UpstreamInvalidResponse("The upstream sent bars that are not a list")
    return {
        "symbol": symbol,
        "timeframe": timeframe,
        "bars": [_bar(raw) for raw in raw_bars],
        "next_page_token": _page_token(body),
    }


def chain_page(body: Any, underlying: str) -> ChainPage:
    """A chain page (``/v1beta1/options/snapshots/{underlying}``), contracts ordered by symbol."""
    body = _object(body, "a chain page")
    quotes = snapshot_map(body.get("snapshots"), option_quote)
    return {
        "underlying_symbol": underlying,
        "contracts": [quotes[symbol] for symbol in sorted(quotes)],
        "next_page_token": _page_token(body),
    }


def _instant(body: dict, key: str) -> datetime:
    value = body.get(key)
    try:
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise UpstreamInvalidResponse(f"The upstream clock sent an unreadable {key!r}") from None


def market_clock(body: Any) -> MarketClock:
    body = _object(body, "a clock")
    is_open = body.get("is_open")
    if not isinstance(is_open, bool):
        raise UpstreamInvalidResponse("The upstream clock sent no is_open flag")
    return {
        "is_open": is_open,
        "timestamp": _instant(body, "timestamp"),
        "next_open": _instant(body, "next_open"),
        "next_close": _instant(body, "next_close"),
    }


def stream_update(message: Any) -> StreamUpdate | None:
    """A stream message (``q``, ``t`` or ``d``, its ``t`` already a string) → the quote part it carries.

    The same renaming as a snapshot's: a quote side at price 0 is no quote, a key Alpaca
    left out is ``None``. Other message types (statuses, corrections, …) are ``None``.
    """
    message = _object(message, "a stream message")
    kind, symbol = message.get("T"), message.get("S")
    if kind not in ("q", "t", "d"):
        return None
    if not isinstance(symbol, str):
        raise UpstreamInvalidResponse("The upstream sent a stream message without a symbol")
    timestamp = _timestamp(message)
    if kind == "q":
        bid_price, bid_size = _side(message, "bp", "bs")
        ask_price, ask_size = _side(message, "ap", "as")
        fields = {"bid_price": bid_price, "bid_size": bid_size, "ask_price": ask_price, "ask_size": ask_size,
                  "quote_timestamp": timestamp}
        return StreamUpdate(symbol, "quote", fields, timestamp)
    if kind == "t":
        fields = {"last_price": _number(message, "p"), "last_size": _number(message, "s"), "trade_timestamp": timestamp}
        return StreamUpdate(symbol, "trade", fields, timestamp)
    return StreamUpdate(symbol, "daily", {"volume": _number(message, "v")}, timestamp)
