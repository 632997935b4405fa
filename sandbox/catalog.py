"""The sandbox's fixed universe: known stocks with reference prices, and the special symbols."""
from dataclasses import dataclass


@dataclass(frozen=True)
class Stock:
    """One known stock; ``listing`` (Q Nasdaq, N NYSE, P NYSE Arca) picks its tape and exchanges."""

    symbol: str
    price: float  # reference mid price the quotes sit on and the bars wander around
    daily_volume: int
    listing: str
    no_bid: bool = False
    traded: bool = True
    null_snapshot: bool = False


_TABLE = [
    ("AAPL", 190.12, 55_000_000, "Q"),
    ("MSFT", 420.55, 20_000_000, "Q"),
    ("GOOGL", 172.30, 25_000_000, "Q"),
    ("AMZN", 184.70, 40_000_000, "Q"),
    ("META", 495.20, 14_000_000, "Q"),
    ("NVDA", 121.40, 250_000_000, "Q"),
    ("TSLA", 178.60, 90_000_000, "Q"),
    ("SPY", 530.25, 60_000_000, "P"),
    ("QQQ", 455.80, 35_000_000, "Q"),
    ("IWM", 205.35, 28_000_000, "P"),
    ("AMD", 162.45, 50_000_000, "Q"),
    ("INTC", 30.85, 45_000_000, "Q"),
    ("NFLX", 640.10, 3_500_000, "Q"),
    ("DIS", 101.75, 9_000_000, "N"),
    ("BA", 178.90, 7_000_000, "N"),
    ("JPM", 198.40, 9_500_000, "N"),
    ("BAC", 39.60, 35_000_000, "N"),
    ("WMT", 67.25, 15_000_000, "N"),
    ("KO", 63.10, 12_000_000, "N"),
    ("PEP", 172.80, 5_000_000, "Q"),
    ("BRK.B", 408.50, 3_800_000, "N"),
    ("V", 275.30, 6_500_000, "N"),
    ("XOM", 113.20, 16_000_000, "N"),
    ("CSCO", 46.70, 18_000_000, "Q"),
    ("ORCL", 125.40, 8_000_000, "N"),
    ("CRM", 232.60, 6_000_000, "N"),
]

NO_BID = "XYZ"
NO_TRADE = "NOTRD"
NULL_SNAPSHOT = "NULLSNAP"

STOCKS: dict[str, Stock] = {
    symbol: Stock(symbol, price, volume, listing) for symbol, price, volume, listing in _TABLE
}
STOCKS[NO_BID] = Stock(NO_BID, 3.15, 400_000, "Q", no_bid=True)
STOCKS[NO_TRADE] = Stock(NO_TRADE, 12.40, 0, "N", traded=False)
STOCKS[NULL_SNAPSHOT] = Stock(NULL_SNAPSHOT, 50.00, 0, "N", traded=False, null_snapshot=True)

SPECIAL = {"no_bid": NO_BID, "no_trade": NO_TRADE, "null_snapshot": NULL_SNAPSHOT}


def stock(symbol: str) -> Stock | None:
    """A known stock with market data (NULLSNAP only exists as a null snapshot, so it is not one)."""
    found = STOCKS.get(symbol)
    return None if found is None or found.null_snapshot else found
