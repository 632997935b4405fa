"""Handlers for the option data endpoints under /v1beta1/options."""
from . import options, params
from .errors import ApiError
from .paging import decode, encode
from .times import ny_date


def _known(args, now) -> list[options.Contract]:
    names = params.symbols(args, options.OCC_PATTERN)
    params.choice(args, "feed", params.OPTION_FEEDS)
    return [found for found in (options.find(name, now) for name in names) if found is not None]


def latest_quotes(args, ctx) -> dict:
    return {"quotes": {c.symbol: options.quote(c, ctx.now) for c in _known(args, ctx.now)}}


def latest_trades(args, ctx) -> dict:
    latest = {c.symbol: options.trade(c, ctx.now) for c in _known(args, ctx.now)}
    return {"trades": {symbol: trade for symbol, trade in latest.items() if trade is not None}}


def _page(args, bodies: dict[str, dict]) -> dict:
    """One page of snapshots ordered by symbol; the token names the first symbol of the next page."""
    size = params.limit(args, 1_000, 100)
    names = sorted(bodies)
    if args.get("page_token"):
        (after,) = decode(args["page_token"], 1)
        names = [name for name in names if name >= after]
    token = encode(names[size]) if len(names) > size else None
    return {"snapshots": {name: bodies[name] for name in names[:size]}, "next_page_token": token}


def snapshots(args, ctx) -> dict:
    contracts = _known(args, ctx.now)
    return _page(args, {c.symbol: options.snapshot(c, ctx.now) for c in contracts})


def chain(args, ctx, underlying: str) -> dict:
    """The chain of one underlying with Alpaca's filters; an unknown underlying gives an empty map."""
    if not params.STOCK_SYMBOL.fullmatch(underlying):
        raise ApiError(400, f"invalid underlying symbol: {underlying}")
    params.choice(args, "feed", params.OPTION_FEEDS)
    kind = params.choice(args, "type", ("call", "put"))
    strike_gte = params.number(args, "strike_price_gte")
    strike_lte = params.number(args, "strike_price_lte")
    exact = params.day(args, "expiration_date")
    exp_gte = params.day(args, "expiration_date_gte")
    exp_lte = params.day(args, "expiration_date_lte")
    root = args.get("root_symbol")
    since = params.instant(args, "updated_since")

    def wanted(c: options.Contract) -> bool:
        return ((kind is None or c.type == kind)
                and (strike_gte is None or c.strike >= strike_gte)
                and (strike_lte is None or c.strike <= strike_lte)
                and (exact is None or c.expiration == exact)
                and (exp_gte is None or c.expiration >= exp_gte)
                and (exp_lte is None or c.expiration <= exp_lte)
                and (root is None or c.root == root))

    listed = options.chains(ny_date(ctx.now)).get(underlying, {})
    bodies = {c.symbol: options.snapshot(c, ctx.now) for c in listed.values() if wanted(c)}
    if since is not None:
        bodies = {name: body for name, body in bodies.items() if options.updated_at(body) >= since}
    return _page(args, bodies)
