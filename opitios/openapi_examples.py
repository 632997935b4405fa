"""Examples for the OpenAPI description: answers of `make demo` as the README shows them (sandbox data).

Each route names its own examples where it declares itself (opitios/routes/).
"""

from __future__ import annotations


def market(data: dict, data_source: str, feed: str = "iex") -> dict:
    """A market-data answer: ``data`` in the success envelope."""
    metadata = {
        "request_id": "913bec76302844e389552c6d4f0abb38", "timestamp": "2026-11-25T09:23:33.352Z",
        "data_source": data_source, "provider": "alpaca", "feed": feed,
        "data_timestamp": "2026-11-25T09:23:22.689846271Z", "data_freshness_seconds": 10.662,
        "market_status": "closed", "cache": "miss", "source": "rest",
    }
    return {"data": data, "metadata": metadata}


def trading(data: dict, **extra) -> dict:
    """A broker answer: ``data`` in the success envelope (``extra``: idempotent_replay on placement)."""
    metadata = {
        "request_id": "5d0c6f2b9e7a4c1d8b3f2a1e0c9d8b7a", "timestamp": "2026-11-25T10:23:37.080Z",
        "data_source": "alpaca_trading", "provider": "alpaca", "data_timestamp": "2026-11-25T10:23:37.074001Z",
        "data_freshness_seconds": 0.006, "market_status": "closed", "cache": "none", **extra,
    }
    return {"data": data, "metadata": metadata}


def plain(data: dict) -> dict:
    """An operations answer."""
    metadata = {"request_id": "0f4e2d6c8a1b4e3f9d7c5b3a1e2f4d6c", "timestamp": "2026-11-25T09:23:33.352Z"}
    return {"data": data, "metadata": metadata}

ERROR = {
    "error": {
        "code": "INVALID_SYMBOL_FORMAT",
        "type": "validation_error",
        "message": "Not a valid stock symbol: 'zz$' (expected e.g. AAPL or BRK.B)",
        "details": {"symbols": ["zz$"]},
    },
    "metadata": {
        "request_id": "49e349775e3c4a4f9c3e5b73135fd775",
        "timestamp": "2026-11-25T09:23:33.359Z",
        "endpoint": "/api/v1/stocks/zz$/quote",
        "suggested_action": "Send a stock symbol like AAPL or BRK.B, or an OCC option symbol like AAPL240216C00190000",
    },
}

STOCK_QUOTE = {
    "symbol": "AAPL", "bid_price": 190.1, "bid_size": 3, "ask_price": 190.14, "ask_size": 6, "last_price": 190.11,
    "last_size": 300, "volume": 38361161, "quote_timestamp": "2026-11-25T09:23:22.689846271Z",
    "trade_timestamp": "2026-11-25T09:23:21.98902682Z",
}
STOCK_BATCH = {
    "quotes": [
        {**STOCK_QUOTE, "status": "success"},
        {"symbol": "ZZZZ", "status": "error",
         "error": {"code": "SYMBOL_NOT_FOUND", "message": "No real market data for symbol ZZZZ"}},
        {
            "symbol": "XYZ", "status": "success", "bid_price": None, "bid_size": None, "ask_price": 3.16, "ask_size": 5,
            "last_price": 3.16, "last_size": 25, "volume": 269123, "quote_timestamp": "2026-11-25T09:23:22.689072258Z",
            "trade_timestamp": "2026-11-25T09:23:21.989599796Z",
        },
    ],
    "summary": {"total_requested": 3, "successful": 2, "failed": 1},
}
BARS = {
    "symbol": "AAPL",
    "timeframe": "5Min",
    "bars": [
        {"timestamp": "2024-06-03T13:30:00Z", "open": 194.21, "high": 194.37, "low": 194.2, "close": 194.23,
         "volume": 631688, "trade_count": 9664, "vwap": 194.25565},
        {"timestamp": "2024-06-03T13:35:00Z", "open": 194.18, "high": 194.26, "low": 194.06, "close": 194.17,
         "volume": 914020, "trade_count": 8327, "vwap": 194.130609},
    ],
    "count": 2,
    "page_info": {"has_more": True, "next_page_token": "QUFQTHwyMDI0LTA2LTAzVDEzOjQwOjAwKzAwOjAw"},
}
OPTION_QUOTE = {
    "symbol": "AAPL261127C00190000", "underlying_symbol": "AAPL", "expiration_date": "2026-11-27", "option_type": "call",
    "strike_price": 190.0, "bid_price": 1.56, "bid_size": 11, "ask_price": 1.62, "ask_size": 1, "last_price": 1.59,
    "last_size": 12, "implied_volatility": 0.240263,
    "greeks": {"delta": 0.5228, "gamma": 0.1057, "theta": -0.3142, "vega": 0.0625, "rho": 0.0067},
    "quote_timestamp": "2026-11-25T09:23:20.715063692Z", "trade_timestamp": "2026-11-25T08:58:48.888297639Z",
}
OPTION_BATCH = {
    "quotes": [
        {**OPTION_QUOTE, "status": "success"},
        {"symbol": "AAPL300118C00190000", "status": "error", "error": {
            "code": "OPTION_CONTRACT_NOT_FOUND", "message": "No real market data for option contract AAPL300118C00190000"}},
    ],
    "summary": {"total_requested": 2, "successful": 1, "failed": 1},
}
CHAIN = {
    "underlying_symbol": "AAPL",
    "expiration_dates": ["2026-11-27"],
    "contracts": [OPTION_QUOTE],
    "count": 1,
    "filters_applied": {"option_type": "call", "min_strike": "190", "max_strike": "190"},
    "page_info": {"has_more": True, "next_page_token": "QUFQTDI2MTIxMUMwMDE5MDAwMA=="},
}
ACCOUNT = {
    "id": "9b7f3c1e-5a2d-4f6b-8c0e-1d2a3b4c5d6e", "account_number": "PA3SANDBOX01", "status": "ACTIVE", "currency": "USD",
    "buying_power": "200000", "cash": "100388.8", "equity": "101713", "portfolio_value": "101713",
}
POSITIONS = {
    "positions": [
        {"symbol": "AAPL", "asset_class": "us_equity", "side": "long", "qty": "7", "avg_entry_price": "189.257143",
         "market_value": "1330.77", "cost_basis": "1324.8", "unrealized_pl": "5.97", "current_price": "190.11"},
    ],
    "count": 1,
}
ORDER = {
    "id": "477510a8-b1dc-4a73-ae1f-f53d4b9c4c3c", "client_order_id": "readme-1", "created_at": "2026-11-25T10:23:37.074001Z",
    "updated_at": "2026-11-25T10:23:37.074001Z", "canceled_at": None, "symbol": "AAPL", "asset_class": "us_equity",
    "qty": "2", "filled_qty": "0", "filled_avg_price": None, "type": "limit", "side": "buy", "time_in_force": "day",
    "limit_price": "185.5", "stop_price": None, "status": "accepted",
}
OPTION_ORDER = {**ORDER, "client_order_id": "readme-2", "symbol": "AAPL261127C00190000", "asset_class": "us_option",
                "qty": "1", "limit_price": "1.5"}
ORDERS = {"orders": [{**ORDER, "status": "new"}], "count": 1, "status": "open"}
HEALTH = {
    "status": "ok", "version": "0.1.0", "provider": "alpaca", "mode": "paper",
    "upstream": {"kind": "alpaca", "configured": True, "paper": True, "data_url": "https://data.alpaca.markets",
                 "trading_url": "https://paper-api.alpaca.markets", "stream_url": "wss://stream.data.alpaca.markets",
                 "feeds": {"stock": "iex", "option": "indicative"}},
    "uptime_seconds": 3600.125,
}
READY = {
    "status": "ready", "checks": {"upstream_credentials": "ok", "database": "ok"}, "cache": "ok", "circuit": "closed",
    "configuration": {"version": "3f2a9c1e", "applied": 6, "refused": []},
    "error_log": {"written": 12, "dropped": 0, "queued": 0},
    "stream": {"state": "streaming", "holder": "web-1:4242:9f3a1c", "connected": True, "healthy": True, "subscribed": 2,
               "symbols": ["AAPL", "SPY"], "lag_seconds": 0.012, "max_lag_seconds": 2.0, "max_symbols": 30,
               "last_error": None, "retry_in_seconds": None, "reported_at": "2026-11-25T09:23:33.101+00:00",
               "counts": {"lease_changes": 1, "messages:daily": 212, "messages:quote": 48113, "messages:trade": 20377}},
}

ORDER_BODY = {"symbol": "AAPL", "qty": "2", "side": "buy", "type": "limit", "limit_price": "185.50",
              "client_order_id": "readme-1"}
OPTION_ORDER_BODY = {"option_symbol": "AAPL261127C00190000", "qty": "1", "side": "buy", "type": "limit",
                     "limit_price": "1.50", "client_order_id": "readme-2"}
