"""Tradable assets (catalog stocks and listed option contracts) with their ids and current marks."""
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from . import bars, catalog, options, stocks
from .times import is_weekday, ny_date, session_close

_NAMESPACE = uuid.UUID("6f1c2a9e-3b7d-4e8f-9a0b-1c2d3e4f5a6b")
_EXCHANGES = {"Q": "NASDAQ", "N": "NYSE", "P": "ARCA"}


@dataclass(frozen=True)
class Asset:
    """What an order or a position needs to know about its instrument."""

    symbol: str
    asset_class: str  # "us_equity" or "us_option"
    exchange: str  # "" for options, like Alpaca
    multiplier: int  # shares per unit: 1, or 100 for an option contract

    @property
    def id(self) -> str:
        return str(uuid.uuid5(_NAMESPACE, self.symbol))

    @property
    def is_option(self) -> bool:
        return self.asset_class == "us_option"


@dataclass(frozen=True)
class Marks:
    """Prices at one instant; ``bid``/``ask`` None when that side is missing."""

    bid: Decimal | None
    ask: Decimal | None
    last: Decimal
    lastday: Decimal


def _money(value: float) -> Decimal:
    return Decimal(repr(round(value, 2)))


def _stock(symbol: str) -> Asset:
    return Asset(symbol, "us_equity", _EXCHANGES[catalog.STOCKS[symbol].listing], 1)


def _option(symbol: str) -> Asset:
    return Asset(symbol, "us_option", "", 100)


def tradable(symbol: str, now: datetime) -> Asset | None:
    """The asset an order may name at ``now``: a catalog stock or a contract listed today."""
    if symbol in catalog.STOCKS:
        return _stock(symbol)
    return _option(symbol) if options.find(symbol, now) is not None else None


def held(symbol: str) -> Asset:
    """The asset of a position (an option stays an option after it stops being listed)."""
    return _stock(symbol) if symbol in catalog.STOCKS else _option(symbol)


def _contract(symbol: str) -> options.Contract:
    """Any AAPL/SPY/MSFT OCC symbol, listed at the current sandbox date or not."""
    root, tail = symbol[:-15], symbol[-15:]
    expiration = date(2000 + int(tail[:2]), int(tail[2:4]), int(tail[4:6]))
    return options.Contract(symbol, root, expiration, tail[6], int(tail[7:]) / 1000)


def _previous_close(now: datetime) -> datetime:
    day = ny_date(now)
    close = session_close(day)
    while not (is_weekday(day) and close <= now):
        day = date.fromordinal(day.toordinal() - 1)
        close = session_close(day)
    return close


def marks(asset: Asset, now: datetime) -> Marks:
    """Quote sides, last price (latest trade, else the mid) and the previous session's close."""
    if asset.is_option:
        contract = _contract(asset.symbol)
        quote = options.quote(contract, now)
        trade = options.trade(contract, now)
        before = options.quote(contract, _previous_close(now))
        lastday = _money((before["bp"] + before["ap"]) / 2) if before["bp"] else _money(before["ap"])
    else:
        stock = catalog.STOCKS[asset.symbol]
        quote = stocks.quote(stock, now)
        trade = stocks.trade(stock, now)
        bucket = bars.latest(bars.DAY, now, 1) if stock.traded else None
        lastday = _money(bars.bar(stock, bars.DAY, bucket)["c"]) if bucket else _money(stock.price)
    bid = _money(quote["bp"]) if quote["bp"] else None
    ask = _money(quote["ap"]) if quote["ap"] else None
    if trade is not None:
        last = _money(trade["p"])
    else:
        last = _money((quote["bp"] + quote["ap"]) / 2) if bid is not None else ask
    return Marks(bid, ask, last, lastday)
