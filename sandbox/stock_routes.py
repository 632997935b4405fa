"""Handlers for the stock data endpoints under /v2/stocks."""
from . import bars, catalog, params, stocks
from .errors import ApiError
from .paging import decode, encode
from .times import ny_at, ny_date, parse_rfc3339

_ADJUSTMENTS = ("raw", "split", "dividend", "all")
_SORTS = ("asc", "desc")


def _requested(args) -> list[str]:
    names = params.symbols(args, params.STOCK_SYMBOL)
    params.choice(args, "feed", params.STOCK_FEEDS)
    return names


def _known(args) -> list[catalog.Stock]:
    # Unknown symbols are left out of the answer, never reported as errors.
    return [found for found in map(catalog.stock, _requested(args)) if found is not None]


def latest_quotes(args, ctx) -> dict:
    return {"quotes": {s.symbol: stocks.quote(s, ctx.now) for s in _known(args)}}


def latest_trades(args, ctx) -> dict:
    return {"trades": {s.symbol: stocks.trade(s, ctx.now) for s in _known(args) if s.traded}}


def latest_bars(args, ctx) -> dict:
    latest = {s.symbol: stocks.latest_bar(s, ctx.now) for s in _known(args)}
    return {"bars": {symbol: bar for symbol, bar in latest.items() if bar is not None}}


def snapshots(args, ctx) -> dict:
    """Top-level map without wrapper; NULLSNAP is sent as an explicit null."""
    out = {}
    for name in _requested(args):
        if name == catalog.NULL_SNAPSHOT:
            out[name] = None
        elif (found := catalog.stock(name)) is not None:
            out[name] = stocks.snapshot(found, ctx.now)
    return out


def historical_bars(args, ctx) -> dict:
    """Bars of several symbols, ordered by symbol then time; ``limit`` counts bars across symbols."""
    known = sorted((s for s in _known(args) if s.traded), key=lambda s: s.symbol)
    tf = params.timeframe(args)
    params.choice(args, "adjustment", _ADJUSTMENTS)
    desc = params.choice(args, "sort", _SORTS) == "desc"
    size = params.limit(args, 10_000, 1_000)
    start = params.instant(args, "start") or ny_at(ny_date(ctx.now), 0)
    end = params.instant(args, "end") or ctx.now
    if start > end:
        raise ApiError(400, "end should not be before start")
    cursor_symbol, cursor_t = None, None
    if args.get("page_token"):
        cursor_symbol, stamp = decode(args["page_token"], 2)
        cursor_t = parse_rfc3339(stamp)
        if cursor_t is None:
            raise ApiError(400, "invalid page token")

    out, count = {}, 0
    for stock in known:
        if cursor_symbol is not None and stock.symbol < cursor_symbol:
            continue
        resume = cursor_t if stock.symbol == cursor_symbol else None
        if desc:
            buckets = bars.backward(tf, start, resume or end, ctx.now)
        else:
            buckets = bars.forward(tf, resume or start, end, ctx.now)
        for bucket in buckets:
            if count == size:
                # The token names the first bar of the next page, so the page ends exactly at ``limit``.
                return {"bars": out, "next_page_token": encode(stock.symbol, bucket.t.isoformat())}
            out.setdefault(stock.symbol, []).append(bars.bar(stock, tf, bucket))
            count += 1
    return {"bars": out, "next_page_token": None}
