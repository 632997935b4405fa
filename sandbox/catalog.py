"""The sandbox's fixed universe: named stocks, generated stocks, and the special symbols.

Beside the 26 named stocks and the three edge cases, the sandbox lists GENERATED_COUNT generated
stocks, so a client (``make bench`` (b)) can ask for hundreds of distinct symbols. They are
``SX`` followed by three letters, in order: SXAAA, SXAAB, … SXATF. Each one's reference price,
volume and listing are hashed from its name (sandbox/det.py), so every process, on every run,
makes the same universe. The stem is chosen so that no generated name can be a symbol the tests,
the README or the benchmark use as *unknown* (ZZZZ, ZZZZX, Q..X, S0…S499): a second letter X
followed by letters only.
"""
from dataclasses import dataclass
from itertools import islice, product
from string import ascii_uppercase

from .det import pick, uniforms


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

GENERATED_STEM = "SX"
GENERATED_COUNT = 500


def _generated(count: int) -> list[Stock]:
    """``count`` ordinary stocks named stem + three letters; price 5-500 and volume 100k-100M, log-uniform."""
    names = (GENERATED_STEM + "".join(letters) for letters in product(ascii_uppercase, repeat=3))
    stocks = []
    for symbol in islice(names, count):
        u = uniforms(symbol, "universe")
        price = round(5 * 100 ** u[0], 2)
        volume = int(100_000 * 1000 ** u[1])
        stocks.append(Stock(symbol, price, volume, pick("QNP", u[2])))
    return stocks


STOCKS: dict[str, Stock] = {
    symbol: Stock(symbol, price, volume, listing) for symbol, price, volume, listing in _TABLE
}
STOCKS.update((stock.symbol, stock) for stock in _generated(GENERATED_COUNT))
STOCKS[NO_BID] = Stock(NO_BID, 3.15, 400_000, "Q", no_bid=True)
STOCKS[NO_TRADE] = Stock(NO_TRADE, 12.40, 0, "N", traded=False)
STOCKS[NULL_SNAPSHOT] = Stock(NULL_SNAPSHOT, 50.00, 0, "N", traded=False, null_snapshot=True)

SPECIAL = {"no_bid": NO_BID, "no_trade": NO_TRADE, "null_snapshot": NULL_SNAPSHOT}


def stock(symbol: str) -> Stock | None:
    """A known stock with market data (NULLSNAP only exists as a null snapshot, so it is not one)."""
    found = STOCKS.get(symbol)
    return None if found is None or found.null_snapshot else found
