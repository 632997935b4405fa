"""Stock market-data bodies: latest quote, trade and bar, and snapshots, stamped just before now."""
from datetime import datetime

from . import bars
from .catalog import Stock
from .det import pick, uniforms
from .times import rfc3339_ns, to_ns

_TAPES = {"Q": "C", "N": "A", "P": "B"}
_VENUES = {"Q": "QVKZPJ", "N": "NVKZPJ", "P": "PVKZQJ"}  # listing exchange first, then common venues


def quote(stock: Stock, now: datetime) -> dict:
    """Latest quote at now-0.5s (plus nanoseconds); a missing bid side is bp 0, bs 0, bx ""."""
    u = uniforms(stock.symbol, "quote")
    return quote_at(stock, to_ns(now) - 500_000_000 - int(u[0] * 1e6))


def quote_at(stock: Stock, ns: int) -> dict:
    """The stock's quote (its values never change) stamped at ``ns`` nanoseconds: what the stream pushes."""
    u = uniforms(stock.symbol, "quote")
    spread = max(0.01, round(stock.price * 0.0002, 2))
    bid = round(stock.price - spread / 2, 2)
    body = {
        "t": rfc3339_ns(ns),
        "ax": pick(_VENUES[stock.listing], u[1]), "ap": round(bid + spread, 2), "as": 1 + int(u[2] * 9),
        "bx": pick(_VENUES[stock.listing], u[3]), "bp": bid, "bs": 1 + int(u[4] * 9),
        "c": ["R"], "z": _TAPES[stock.listing],
    }
    if stock.no_bid:
        body.update(bx="", bp=0, bs=0)
    return body


def trade(stock: Stock, now: datetime) -> dict | None:
    """Latest trade at now-1.2s (plus nanoseconds), or None for a never-traded stock."""
    u = uniforms(stock.symbol, "trade")
    return trade_at(stock, to_ns(now) - 1_200_000_000 - int(u[0] * 1e6))


def trade_at(stock: Stock, ns: int) -> dict | None:
    """The stock's trade (its values never change) stamped at ``ns``, or None for a never-traded stock."""
    if not stock.traded:
        return None
    q = quote_at(stock, ns)
    u = uniforms(stock.symbol, "trade")
    low = q["bp"] or round(q["ap"] - 0.02, 2)
    return {
        "t": rfc3339_ns(ns),
        "x": pick(_VENUES[stock.listing], u[1]),
        "p": round(low + (q["ap"] - low) * u[2], 2),
        "s": pick((1, 5, 10, 25, 50, 100, 100, 200, 300, 500), u[3]),
        "c": pick((["@"], ["@", "F"], ["@", "I"]), u[4]),
        "i": 10**13 + int(u[5] * 9 * 10**13),
        "z": _TAPES[stock.listing],
    }


def latest_bar(stock: Stock, now: datetime) -> dict | None:
    """The newest 1Min bar, or None for a never-traded stock."""
    bucket = bars.latest(bars.MINUTE, now) if stock.traded else None
    return bars.bar(stock, bars.MINUTE, bucket) if bucket else None


def daily_bar(stock: Stock, now: datetime) -> dict | None:
    """The day's bar so far (the snapshot's dailyBar), or None for a never-traded stock."""
    bucket = bars.latest(bars.DAY, now) if stock.traded else None
    return bars.bar(stock, bars.DAY, bucket) if bucket else None


def snapshot(stock: Stock, now: datetime) -> dict:
    """Snapshot; parts that do not exist (never traded) are absent keys."""
    if not stock.traded:
        return {"latestQuote": quote(stock, now)}
    body = {"latestTrade": trade(stock, now), "latestQuote": quote(stock, now)}
    parts = (("minuteBar", bars.MINUTE, 0), ("dailyBar", bars.DAY, 0), ("prevDailyBar", bars.DAY, 1))
    for key, tf, skip in parts:
        bucket = bars.latest(tf, now, skip)
        if bucket is not None:
            body[key] = bars.bar(stock, tf, bucket)
    return body
