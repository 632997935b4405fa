"""Option chains (AAPL, SPY, MSFT) and their deterministic quotes, trades, greeks and snapshots.

Each underlying lists 4 expirations (the next 4 Fridays strictly after the sandbox now's New York date)
x 9 strikes around its reference price x call/put. Prices and greeks come from Black-Scholes with a
smile, only to look plausible. Three AAPL contracts are special (see ``special``).
"""
import math
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

from . import bars
from .catalog import STOCKS
from .det import pick, uniforms
from .times import ny_date, parse_rfc3339, rfc3339_ns, session_close, to_ns

OCC_PATTERN = re.compile(r"[A-Z][A-Z0-9]{0,5}\d{6}[CP]\d{8}")
_CHAINS = {"AAPL": (5.0, 0.24), "SPY": (5.0, 0.14), "MSFT": (5.0, 0.22)}  # strike step, base volatility
_EXCHANGES = "ABCHIMNPQWXZ"
_RATE = 0.045


@dataclass(frozen=True)
class Contract:
    """One listed option contract."""

    symbol: str
    underlying: str
    expiration: date
    kind: str  # "C" or "P"
    strike: float

    @property
    def root(self) -> str:
        return self.symbol[:-15]  # the OCC suffix is YYMMDD + C/P + 8 strike digits

    @property
    def type(self) -> str:
        return "call" if self.kind == "C" else "put"


def occ_symbol(root: str, expiration: date, kind: str, strike: float) -> str:
    """OCC symbology: root + YYMMDD + C/P + strike x 1000 on 8 digits."""
    return f"{root}{expiration:%y%m%d}{kind}{round(strike * 1000):08d}"


def expirations(today: date) -> list[date]:
    """The next 4 Fridays strictly after ``today``."""
    first = today + timedelta(days=(4 - today.weekday()) % 7 or 7)
    return [first + timedelta(weeks=i) for i in range(4)]


@lru_cache(maxsize=64)
def chains(today: date) -> dict[str, dict[str, Contract]]:
    """Every contract by underlying, then by OCC symbol (sorted)."""
    out = {}
    for underlying, (step, _) in _CHAINS.items():
        center = round(STOCKS[underlying].price / step) * step
        strikes = [center + step * i for i in range(-4, 5)]
        contracts = [
            Contract(occ_symbol(underlying, exp, kind, strike), underlying, exp, kind, strike)
            for exp in expirations(today) for kind in "CP" for strike in strikes
        ]
        out[underlying] = {c.symbol: c for c in sorted(contracts, key=lambda c: c.symbol)}
    return out


def special(today: date) -> dict[str, str]:
    """AAPL contracts with missing data: no IV/greeks/trade, a zero bid side, no trade."""
    exps = expirations(today)
    center = round(STOCKS["AAPL"].price / 5) * 5
    return {
        "no_greeks": occ_symbol("AAPL", exps[0], "C", center + 20),
        "no_bid": occ_symbol("AAPL", exps[1], "P", center - 20),
        "no_trade": occ_symbol("AAPL", exps[3], "C", center + 15),
    }


def find(symbol: str, now: datetime) -> Contract | None:
    """The contract named ``symbol`` listed at ``now``, if any."""
    for contracts in chains(ny_date(now)).values():
        if symbol in contracts:
            return contracts[symbol]
    return None


def _norm_cdf(x: float) -> float:
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


def _norm_pdf(x: float) -> float:
    return math.exp(-x * x / 2) / math.sqrt(2 * math.pi)


def _model(contract: Contract, now: datetime) -> tuple[float, float, dict]:
    """Mid price, implied volatility and greeks."""
    spot = STOCKS[contract.underlying].price
    strike = contract.strike
    years = max((session_close(contract.expiration) - now).total_seconds(), 3600) / (365 * 86400)
    moneyness = math.log(strike / spot)
    u = uniforms(contract.symbol, "iv")
    vol = _CHAINS[contract.underlying][1] + 0.8 * moneyness**2 - 0.1 * moneyness + 0.01 * (u[0] - 0.5)
    root_t = math.sqrt(years)
    d1 = (math.log(spot / strike) + (_RATE + vol * vol / 2) * years) / (vol * root_t)
    d2 = d1 - vol * root_t
    discount = strike * math.exp(-_RATE * years)
    decay = -spot * _norm_pdf(d1) * vol / (2 * root_t)
    if contract.kind == "C":
        price = spot * _norm_cdf(d1) - discount * _norm_cdf(d2)
        delta, rho = _norm_cdf(d1), discount * years * _norm_cdf(d2) / 100
        theta = (decay - _RATE * discount * _norm_cdf(d2)) / 365
    else:
        price = discount * _norm_cdf(-d2) - spot * _norm_cdf(-d1)
        delta, rho = _norm_cdf(d1) - 1, -discount * years * _norm_cdf(-d2) / 100
        theta = (decay + _RATE * discount * _norm_cdf(-d2)) / 365
    raw = {
        "delta": delta,
        "gamma": _norm_pdf(d1) / (spot * vol * root_t),
        "rho": rho,
        "theta": theta,
        "vega": spot * _norm_pdf(d1) * root_t / 100,
    }
    greeks = {name: round(value, 4) + 0.0 for name, value in raw.items()}  # + 0.0 turns -0.0 into 0.0
    return max(price, 0.01), round(vol, 6), greeks


def quote(contract: Contract, now: datetime) -> dict:
    """Latest quote; option conditions are a string, not a list."""
    mid, _, _ = _model(contract, now)
    u = uniforms(contract.symbol, "quote")
    spread = min(0.5, max(0.01, round(0.03 * mid + 0.01, 2)))
    bid = round(max(0.01, mid - spread / 2), 2)
    body = {
        "t": rfc3339_ns(to_ns(now) - 500_000_000 - int(u[0] * 2e9)),
        "ax": pick(_EXCHANGES, u[1]), "ap": round(bid + spread, 2), "as": 1 + int(u[2] * 50),
        "bx": pick(_EXCHANGES, u[3]), "bp": bid, "bs": 1 + int(u[4] * 50),
        "c": "A",
    }
    if contract.symbol == special(ny_date(now))["no_bid"]:
        body.update(bx="", bp=0, bs=0)
    return body


def trade(contract: Contract, now: datetime) -> dict | None:
    """Latest trade, or None for contracts that never traded."""
    marks = special(ny_date(now))
    if contract.symbol in (marks["no_greeks"], marks["no_trade"]):
        return None
    q = quote(contract, now)
    u = uniforms(contract.symbol, "trade")
    low = max(q["bp"], 0.01)
    return {
        "t": rfc3339_ns(to_ns(now) - 5 * 10**9 - int(u[0] * 3600e9)),
        "x": pick(_EXCHANGES, u[1]),
        "p": round(low + (q["ap"] - low) * u[2], 2),
        "s": 1 + int(u[3] * 20),
        "c": "I",
    }


def _daily_bar(contract: Contract, now: datetime, last: float) -> dict | None:
    day = bars.latest(bars.DAY, now)
    if day is None:
        return None
    u = uniforms(contract.symbol, "daily", day.t.isoformat())
    o = round(max(0.01, last * (1 + 0.2 * (u[0] - 0.5))), 2)
    h = round(max(o, last) * (1 + 0.1 * u[1]), 2)
    low = round(max(0.01, min(o, last) * (1 - 0.1 * u[2])), 2)
    volume = 1 + int(u[3] * 3000)
    return {"t": day.t.strftime("%Y-%m-%dT%H:%M:%SZ"), "o": o, "h": h, "l": low, "c": last,
            "v": volume, "n": max(1, volume // (2 + int(u[4] * 10))),
            "vw": round(low + (h - low) * (0.25 + 0.5 * u[5]), 4)}


def snapshot(contract: Contract, now: datetime) -> dict:
    """Snapshot; missing IV, greeks and latestTrade are absent keys, never nulls."""
    body = {"latestQuote": quote(contract, now)}
    last = trade(contract, now)
    if last is not None:
        body["latestTrade"] = last
    if contract.symbol != special(ny_date(now))["no_greeks"]:
        _, vol, greeks = _model(contract, now)
        body["impliedVolatility"] = vol
        body["greeks"] = greeks
    if last is not None and uniforms(contract.symbol, "has-daily")[0] < 0.6:
        daily = _daily_bar(contract, now, last["p"])
        if daily is not None:
            body["dailyBar"] = daily
    return body


def updated_at(body: dict) -> datetime:
    """The newest quote or trade stamp of a snapshot."""
    return max(parse_rfc3339(body[key]["t"]) for key in ("latestQuote", "latestTrade") if key in body)
