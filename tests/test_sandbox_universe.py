"""The sandbox's universe: 500 generated stocks beside the named ones, the same in every process, edge cases intact."""
import json
import os
import subprocess
import sys
from pathlib import Path

from alpaca.data.historical.stock import StockHistoricalDataClient
from alpaca.data.models import Snapshot
from alpaca.data.requests import StockSnapshotRequest

from opitios.symbols import STOCK_SYMBOL
from sandbox.client import SandboxServer

ROOT = Path(__file__).resolve().parent.parent
NOW = "2024-06-05T18:00:00.123Z"  # a Wednesday, market open: every part of a snapshot exists
SNAPSHOTS = "/v2/stocks/snapshots"
NAMED = {"AAPL", "MSFT", "GOOGL", "AMZN", "META", "NVDA", "TSLA", "SPY", "QQQ", "IWM", "AMD", "INTC", "NFLX",
         "DIS", "BA", "JPM", "BAC", "WMT", "KO", "PEP", "BRK.B", "V", "XOM", "CSCO", "ORCL", "CRM"}
# What tests, the README and the benchmark ask for expecting the upstream to have no data.
UNKNOWN = ["ZZZZ", "ZZZZX", "QAAX", "QZZX", "ZAAX", "S0", "S499"]


def tradable(catalog: dict) -> list[str]:
    return [symbol for symbol in catalog["stocks"] if symbol != catalog["special"]["null_snapshot"]]


def generated(catalog: dict) -> list[str]:
    return [symbol for symbol in tradable(catalog) if symbol not in NAMED and symbol not in catalog["special"].values()]


def test_five_hundred_generated_stocks_answer_snapshots_that_alpaca_py_parses(sandbox):
    sandbox.switches(now=NOW)
    catalog = sandbox.catalog()
    made = generated(catalog)
    assert len(made) >= 500 and len(tradable(catalog)) >= 500 + len(NAMED)
    assert NAMED <= set(catalog["stocks"])
    assert all(STOCK_SYMBOL.fullmatch(symbol) and symbol.startswith("SX") for symbol in made)
    assert not set(UNKNOWN) & set(catalog["stocks"])
    client = StockHistoricalDataClient(sandbox.key, sandbox.secret, url_override=sandbox.url)
    snapshots = client.get_stock_snapshot(StockSnapshotRequest(symbol_or_symbols=made))
    assert set(snapshots) == set(made)
    for symbol, snapshot in snapshots.items():
        assert isinstance(snapshot, Snapshot)
        quote, trade = snapshot.latest_quote, snapshot.latest_trade
        assert 0 < quote.bid_price < quote.ask_price and quote.bid_size > 0
        assert quote.bid_price <= trade.price <= quote.ask_price and snapshot.daily_bar.volume > 0


def test_the_edge_cases_behave_as_before_beside_the_generated_stocks(sandbox):
    sandbox.switches(now=NOW)
    special = sandbox.catalog()["special"]
    asked = ["SXAAA", special["no_bid"], special["no_trade"], special["null_snapshot"], *UNKNOWN]
    status, _, body = sandbox.get(SNAPSHOTS, symbols=asked, feed="iex")
    assert status == 200
    assert set(body) == {"SXAAA", "XYZ", "NOTRD", "NULLSNAP"}  # unknown symbols are left out
    assert body["NULLSNAP"] is None
    assert (body["XYZ"]["latestQuote"]["bp"], body["XYZ"]["latestQuote"]["bx"]) == (0, "")
    assert set(body["NOTRD"]) == {"latestQuote"}
    assert set(body["SXAAA"]) == {"latestTrade", "latestQuote", "minuteBar", "dailyBar", "prevDailyBar"}


def _universe_in_a_new_process(hash_seed: str) -> dict:
    code = ("import json; from sandbox import catalog; "
            "print(json.dumps({s: [v.price, v.daily_volume, v.listing] for s, v in catalog.STOCKS.items()}))")
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return json.loads(run.stdout)


def test_the_universe_is_the_same_in_every_process(sandbox):
    # Python's own hash() differs per process unless seeded alike: the universe must not depend on it.
    first, second = _universe_in_a_new_process("1"), _universe_in_a_new_process("2")
    assert first == second and len(first) >= 529
    sandbox.switches(now=NOW)
    made = generated(sandbox.catalog())
    assert made == sorted(symbol for symbol in first if symbol.startswith("SX"))
    with SandboxServer(now=NOW) as other:
        assert other.get(SNAPSHOTS, symbols=made[:100])[2] == sandbox.get(SNAPSHOTS, symbols=made[:100])[2]
