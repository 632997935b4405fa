"""The sandbox speaks Alpaca's wire format: alpaca-py's own clients and models parse every endpoint."""
import re
from datetime import date, datetime, timedelta, timezone

import pytest
from alpaca.common.enums import Sort
from alpaca.common.exceptions import APIError
from alpaca.data.historical.option import OptionHistoricalDataClient
from alpaca.data.historical.stock import StockHistoricalDataClient
from alpaca.data.models import BarSet, Quote, Snapshot, Trade
from alpaca.data.models.snapshots import OptionsSnapshot
from alpaca.data.requests import (
    OptionChainRequest,
    OptionLatestQuoteRequest,
    OptionLatestTradeRequest,
    OptionSnapshotRequest,
    StockBarsRequest,
    StockLatestBarRequest,
    StockLatestQuoteRequest,
    StockLatestTradeRequest,
    StockSnapshotRequest,
)
from alpaca.data.timeframe import TimeFrame, TimeFrameUnit
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import AccountStatus, ContractType
from alpaca.trading.models import Clock, TradeAccount

from sandbox.client import SandboxServer

UTC = timezone.utc
NOW = "2024-06-05T18:00:00.123Z"  # a Wednesday, 14:00:00.123 in New York (EDT): market open
NOW_DT = datetime(2024, 6, 5, 18, 0, 0, 123000, tzinfo=UTC)
# RFC 3339 UTC with Go's trimmed fraction: no trailing zero, at most 9 digits.
MARKET_STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{0,8}[1-9])?Z")
BAR_STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
OCC = re.compile(r"[A-Z]{1,6}\d{6}[CP]\d{8}")


@pytest.fixture
def wire(sandbox):
    sandbox.switches(now=NOW)
    return sandbox


def stock_client(server, secret=None):
    client = StockHistoricalDataClient(server.key, secret or server.secret, url_override=server.url)
    client._retry = 0  # no 3 s sleeps on 429/504
    return client


def option_client(server):
    client = OptionHistoricalDataClient(server.key, server.secret, url_override=server.url)
    client._retry = 0
    return client


def trading_client(server, secret=None):
    client = TradingClient(server.key, secret or server.secret, paper=True, url_override=server.url)
    client._retry = 0
    return client


def utc(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def assert_plausible_bar(bar: dict):
    assert BAR_STAMP.fullmatch(bar["t"])
    assert bar["l"] <= min(bar["o"], bar["c"]) <= max(bar["o"], bar["c"]) <= bar["h"]
    assert bar["l"] <= bar["vw"] <= bar["h"]
    assert type(bar["v"]) is int and bar["v"] > 0
    assert type(bar["n"]) is int and bar["n"] > 0


# --- stocks: latest data and snapshots ----------------------------------------------------------


def test_stock_snapshots_parse_and_special_symbols(wire):
    names = ["AAPL", "BRK.B", "XYZ", "NOTRD", "NULLSNAP", "ZZZZ"]
    snaps = stock_client(wire).get_stock_snapshot(StockSnapshotRequest(symbol_or_symbols=names))
    assert set(snaps) == {"AAPL", "BRK.B", "XYZ", "NOTRD"}  # NULLSNAP null filtered by the SDK, ZZZZ left out
    aapl = snaps["AAPL"]
    assert isinstance(aapl, Snapshot)
    assert 170 < aapl.latest_quote.bid_price < aapl.latest_quote.ask_price < 210
    assert NOW_DT - timedelta(seconds=5) < aapl.latest_trade.timestamp < aapl.latest_quote.timestamp < NOW_DT
    assert aapl.minute_bar.timestamp == datetime(2024, 6, 5, 18, 0, tzinfo=UTC)
    assert aapl.daily_bar.timestamp == datetime(2024, 6, 5, 4, 0, tzinfo=UTC)
    assert aapl.previous_daily_bar.timestamp == datetime(2024, 6, 4, 4, 0, tzinfo=UTC)
    xyz = snaps["XYZ"].latest_quote
    assert (xyz.bid_price, xyz.bid_size, xyz.bid_exchange) == (0, 0, "")
    assert xyz.ask_price > 0
    notrd = snaps["NOTRD"]
    assert notrd.latest_quote is not None
    assert notrd.latest_trade is None and notrd.minute_bar is None and notrd.daily_bar is None

    status, _, raw = wire.get("/v2/stocks/snapshots", symbols=names)
    assert status == 200
    assert "NULLSNAP" in raw and raw["NULLSNAP"] is None
    assert "ZZZZ" not in raw
    assert set(raw["NOTRD"]) == {"latestQuote"}
    assert set(raw["AAPL"]) == {"latestTrade", "latestQuote", "minuteBar", "dailyBar", "prevDailyBar"}


def test_stock_latest_endpoints_parse(wire):
    client = stock_client(wire)
    names = ["AAPL", "MSFT", "XYZ", "NOTRD", "ZZZZ"]
    quotes = client.get_stock_latest_quote(StockLatestQuoteRequest(symbol_or_symbols=names))
    trades = client.get_stock_latest_trade(StockLatestTradeRequest(symbol_or_symbols=names))
    latest_bars = client.get_stock_latest_bar(StockLatestBarRequest(symbol_or_symbols=names))
    assert set(quotes) == {"AAPL", "MSFT", "XYZ", "NOTRD"}
    assert set(trades) == {"AAPL", "MSFT", "XYZ"}
    assert set(latest_bars) == {"AAPL", "MSFT", "XYZ"}
    assert isinstance(quotes["MSFT"], Quote) and isinstance(trades["MSFT"], Trade)
    assert quotes["XYZ"].bid_price == 0
    q, t = quotes["AAPL"], trades["AAPL"]
    assert q.bid_price < q.ask_price and q.bid_price <= t.price <= q.ask_price
    assert q.conditions == ["R"] and q.tape == "C"
    assert isinstance(t.id, int) and t.size > 0
    assert latest_bars["AAPL"].timestamp == datetime(2024, 6, 5, 18, 0, tzinfo=UTC)


def test_stock_wire_types_and_timestamps(wire):
    _, _, quotes = wire.get("/v2/stocks/quotes/latest", symbols="AAPL,XYZ")
    _, _, trades = wire.get("/v2/stocks/trades/latest", symbols="AAPL")
    _, _, latest = wire.get("/v2/stocks/bars/latest", symbols="AAPL")
    quote, trade = quotes["quotes"]["AAPL"], trades["trades"]["AAPL"]
    assert set(quote) == {"t", "ax", "ap", "as", "bx", "bp", "bs", "c", "z"}
    assert set(trade) == {"t", "x", "p", "s", "c", "i", "z"}
    assert MARKET_STAMP.fullmatch(quote["t"]) and MARKET_STAMP.fullmatch(trade["t"])
    assert len(quote["t"].split(".")[1]) > 7  # nanosecond precision
    assert all(type(quote[k]) in (int, float) for k in ("ap", "as", "bp", "bs"))
    assert type(quote["as"]) is int and isinstance(quote["c"], list)
    assert type(trade["i"]) is int and type(trade["s"]) is int and isinstance(trade["c"], list)
    assert quotes["quotes"]["XYZ"]["bp"] == 0 and quotes["quotes"]["XYZ"]["bs"] == 0
    assert quotes["quotes"]["XYZ"]["bx"] == ""
    assert_plausible_bar(latest["bars"]["AAPL"])
    assert NOW_DT - timedelta(milliseconds=502) < utc(quote["t"]) <= NOW_DT - timedelta(milliseconds=500)
    assert NOW_DT - timedelta(milliseconds=1202) < utc(trade["t"]) <= NOW_DT - timedelta(milliseconds=1200)


def test_only_unknown_symbols_give_empty_maps(wire):
    for path in ("/v2/stocks/quotes/latest", "/v2/stocks/trades/latest", "/v2/stocks/bars/latest"):
        status, _, body = wire.get(path, symbols="ZZZZ,QQQQ")
        assert status == 200 and list(body.values()) == [{}]
    assert wire.get("/v2/stocks/snapshots", symbols="ZZZZ")[2] == {}
    assert stock_client(wire).get_stock_latest_quote(StockLatestQuoteRequest(symbol_or_symbols="ZZZZ")) == {}


def test_repeated_calls_identical_until_now_changes(wire):
    first = wire.get("/v2/stocks/snapshots", symbols="AAPL,MSFT")[2]
    assert wire.get("/v2/stocks/snapshots", symbols="AAPL,MSFT")[2] == first
    wire.switches(now="2024-06-05T18:00:10Z")
    later = wire.get("/v2/stocks/snapshots", symbols="AAPL,MSFT")[2]
    assert later["AAPL"]["latestQuote"]["bp"] == first["AAPL"]["latestQuote"]["bp"]  # fixed per symbol
    assert utc(later["AAPL"]["latestQuote"]["t"]) > utc(first["AAPL"]["latestQuote"]["t"])


# --- stocks: historical bars --------------------------------------------------------------------


def test_bars_sdk_pagination_equals_single_pages(wire):
    client = stock_client(wire)
    names = ["AAPL", "MSFT", "SPY"]
    window = dict(timeframe=TimeFrame.Minute, start=datetime(2024, 5, 20), end=datetime(2024, 5, 31, 23, 59))
    merged = client.get_stock_bars(StockBarsRequest(symbol_or_symbols=names, **window))
    log = wire.calls()["log"]
    # 11,700 bars > the SDK's 10,000 page: it must follow next_page_token once.
    assert [entry["path"] for entry in log] == ["/v2/stocks/bars"] * 2
    assert "page_token" not in log[0]["query"] and log[1]["query"]["page_token"]
    assert log[0]["query"]["limit"] == "10000" and log[0]["query"]["timeframe"] == "1Min"
    assert isinstance(merged, BarSet)
    for name in names:
        single = client.get_stock_bars(StockBarsRequest(symbol_or_symbols=name, **window))
        assert len(single[name]) == 10 * 390
        assert merged[name] == single[name]


def test_bars_raw_pages_equal_one_big_page(wire):
    for sort in ("asc", "desc"):
        query = dict(symbols="MSFT,AAPL,NOTRD,ZZZZ", timeframe="1Hour", start="2024-06-03T00:00:00Z",
                     end="2024-06-04T23:00:00Z", sort=sort)
        status, _, whole = wire.get("/v2/stocks/bars", limit=10000, **query)
        assert status == 200 and whole["next_page_token"] is None
        assert list(whole["bars"]) == ["AAPL", "MSFT"]  # by symbol; unknown and never-traded left out
        assert all(len(bars) == 14 for bars in whole["bars"].values())
        pieces, token, pages = {}, None, 0
        while True:
            _, _, page = wire.get("/v2/stocks/bars", limit=5, page_token=token, **query)
            pages += 1
            assert "next_page_token" in page and sum(map(len, page["bars"].values())) <= 5
            for name, bars in page["bars"].items():
                pieces.setdefault(name, []).extend(bars)
            token = page["next_page_token"]
            if token is None:
                break
        assert pages == 6 and pieces == whole["bars"]


def test_bars_sort_desc_is_newest_first(wire):
    client = stock_client(wire)
    window = dict(symbol_or_symbols="AAPL", timeframe=TimeFrame(5, TimeFrameUnit.Minute),
                  start=datetime(2024, 6, 4))
    ascending = client.get_stock_bars(StockBarsRequest(**window))["AAPL"]
    descending = client.get_stock_bars(StockBarsRequest(sort=Sort.DESC, **window))["AAPL"]
    assert descending == ascending[::-1]
    assert descending[0].timestamp == datetime(2024, 6, 5, 18, 0, tzinfo=UTC)
    _, _, page = wire.get("/v2/stocks/bars", symbols="AAPL", timeframe="5Min", start="2024-06-04",
                          sort="desc", limit=3)
    assert [b["t"] for b in page["bars"]["AAPL"]] == ["2024-06-05T18:00:00Z", "2024-06-05T17:55:00Z",
                                                       "2024-06-05T17:50:00Z"]
    _, _, following = wire.get("/v2/stocks/bars", symbols="AAPL", timeframe="5Min", start="2024-06-04",
                               sort="desc", limit=1, page_token=page["next_page_token"])
    assert following["bars"]["AAPL"][0]["t"] == "2024-06-05T17:45:00Z"


def test_bars_default_range_is_today_until_now(wire):
    _, _, body = wire.get("/v2/stocks/bars", symbols="AAPL", timeframe="1Min")
    stamps = [b["t"] for b in body["bars"]["AAPL"]]
    assert stamps[0] == "2024-06-05T13:30:00Z" and stamps[-1] == "2024-06-05T18:00:00Z"
    assert len(stamps) == 271 and body["next_page_token"] is None


EXPECTED_STAMPS = {
    # timeframe: (start, the first three bar stamps)
    "1Min": ("2024-06-03", ["2024-06-03T13:30:00Z", "2024-06-03T13:31:00Z", "2024-06-03T13:32:00Z"]),
    "5Min": ("2024-06-03", ["2024-06-03T13:30:00Z", "2024-06-03T13:35:00Z", "2024-06-03T13:40:00Z"]),
    "15Min": ("2024-06-03", ["2024-06-03T13:30:00Z", "2024-06-03T13:45:00Z", "2024-06-03T14:00:00Z"]),
    "30Min": ("2024-06-03", ["2024-06-03T13:30:00Z", "2024-06-03T14:00:00Z", "2024-06-03T14:30:00Z"]),
    "1Hour": ("2024-06-03", ["2024-06-03T13:00:00Z", "2024-06-03T14:00:00Z", "2024-06-03T15:00:00Z"]),
    "4Hour": ("2024-06-03", ["2024-06-03T12:00:00Z", "2024-06-03T16:00:00Z", "2024-06-04T12:00:00Z"]),
    "1Day": ("2024-05-31", ["2024-05-31T04:00:00Z", "2024-06-03T04:00:00Z", "2024-06-04T04:00:00Z"]),
    "1Week": ("2024-02-26", ["2024-02-26T05:00:00Z", "2024-03-04T05:00:00Z", "2024-03-11T04:00:00Z"]),
    "1Month": ("2024-01-01", ["2024-01-01T05:00:00Z", "2024-02-01T05:00:00Z", "2024-03-01T05:00:00Z"]),
}
TIMEFRAMES = {
    "1Min": TimeFrame.Minute, "5Min": TimeFrame(5, TimeFrameUnit.Minute),
    "15Min": TimeFrame(15, TimeFrameUnit.Minute), "30Min": TimeFrame(30, TimeFrameUnit.Minute),
    "1Hour": TimeFrame.Hour, "4Hour": TimeFrame(4, TimeFrameUnit.Hour), "1Day": TimeFrame.Day,
    "1Week": TimeFrame.Week, "1Month": TimeFrame.Month,
}


@pytest.mark.parametrize("name", list(EXPECTED_STAMPS))
def test_timeframes_produce_aligned_buckets(wire, name):
    start, first_three = EXPECTED_STAMPS[name]
    request = StockBarsRequest(symbol_or_symbols="AAPL", timeframe=TIMEFRAMES[name],
                               start=datetime.fromisoformat(start))
    parsed = stock_client(wire).get_stock_bars(request)["AAPL"]
    _, _, raw = wire.get("/v2/stocks/bars", symbols="AAPL", timeframe=name, start=start, limit=10000)
    bars = raw["bars"]["AAPL"]
    assert [b["t"] for b in bars[:3]] == first_three
    assert [b.timestamp for b in parsed] == [utc(b["t"]) for b in bars]
    assert utc(bars[-1]["t"]) <= NOW_DT
    for bar in bars:
        assert_plausible_bar(bar)
        assert utc(bar["t"]).weekday() < 5 or name in ("1Month",)


def test_timeframe_spellings_are_equivalent(wire):
    query = dict(symbols="AAPL", start="2024-06-04")
    for short, full in (("5T", "5Min"), ("1H", "1Hour"), ("1D", "1Day"), ("1W", "1Week"), ("1M", "1Month")):
        assert wire.get("/v2/stocks/bars", timeframe=short, **query)[2] == \
            wire.get("/v2/stocks/bars", timeframe=full, **query)[2]


def test_bars_exist_only_from_2016_until_now(wire):
    _, _, monthly = wire.get("/v2/stocks/bars", symbols="SPY", timeframe="1Month", start="2010-01-01",
                             limit=10000)
    stamps = [b["t"] for b in monthly["bars"]["SPY"]]
    assert stamps[0] == "2016-01-01T05:00:00Z" and stamps[-1] == "2024-06-01T04:00:00Z" and len(stamps) == 102
    _, _, future = wire.get("/v2/stocks/bars", symbols="SPY", timeframe="1Min", start="2024-06-05T18:00:01Z",
                            end="2024-06-07T00:00:00Z")
    assert future == {"bars": {}, "next_page_token": None}
    _, _, before = wire.get("/v2/stocks/bars", symbols="SPY", timeframe="1Day", start="2010-01-01",
                            end="2015-12-31")
    assert before == {"bars": {}, "next_page_token": None}
    wire.switches(now="2024-06-08T15:00:00Z")  # Saturday: the latest bars are Friday's
    _, _, snap = wire.get("/v2/stocks/snapshots", symbols="SPY")
    assert snap["SPY"]["minuteBar"]["t"] == "2024-06-07T19:59:00Z"
    assert snap["SPY"]["dailyBar"]["t"] == "2024-06-07T04:00:00Z"
    assert snap["SPY"]["prevDailyBar"]["t"] == "2024-06-06T04:00:00Z"


def test_bar_values_depend_only_on_symbol_timeframe_and_time(wire):
    _, _, wide = wire.get("/v2/stocks/bars", symbols="AAPL,MSFT", timeframe="15Min", start="2024-06-03")
    _, _, narrow = wire.get("/v2/stocks/bars", symbols="MSFT", timeframe="15Min",
                            start="2024-06-04T15:00:00Z", end="2024-06-04T15:30:00Z")
    by_time = {b["t"]: b for b in wide["bars"]["MSFT"]}
    assert len(narrow["bars"]["MSFT"]) == 3
    assert all(by_time[b["t"]] == b for b in narrow["bars"]["MSFT"])
    wire.switches(now="2024-06-20T18:00:00Z")
    _, _, later = wire.get("/v2/stocks/bars", symbols="MSFT", timeframe="15Min",
                           start="2024-06-04T15:00:00Z", end="2024-06-04T15:30:00Z")
    assert later == narrow


# --- options ------------------------------------------------------------------------------------


def test_option_catalog_chains(wire):
    catalog = wire.catalog()
    assert set(catalog["options"]) == {"AAPL", "SPY", "MSFT"}
    aapl = catalog["options"]["AAPL"]
    assert len(aapl) == 72 and aapl == sorted(aapl) and all(OCC.fullmatch(s) for s in aapl)
    assert {s[4:10] for s in aapl} == {"240607", "240614", "240621", "240628"}  # next 4 Fridays after 06-05
    assert {int(s[-8:]) / 1000 for s in aapl} == set(range(170, 211, 5))
    assert set(catalog["option_special"]) == {"no_greeks", "no_bid", "no_trade"}
    assert set(catalog["option_special"].values()) <= set(aapl)


def test_option_snapshots_parse_and_special_contracts(wire):
    special = wire.catalog()["option_special"]
    normal = "AAPL240614C00190000"
    names = [*special.values(), normal, "AAPL300621C00190000"]  # the last is well-formed but not listed
    snaps = option_client(wire).get_option_snapshot(OptionSnapshotRequest(symbol_or_symbols=names))
    assert set(snaps) == {*special.values(), normal}
    assert all(isinstance(s, OptionsSnapshot) for s in snaps.values())
    full = snaps[normal]
    assert full.latest_quote.bid_price < full.latest_quote.ask_price
    assert full.latest_trade.price > 0 and 0 < full.implied_volatility < 2
    assert 0 < full.greeks.delta < 1 and full.greeks.gamma > 0 and full.greeks.theta < 0
    no_greeks = snaps[special["no_greeks"]]
    assert no_greeks.greeks is None and no_greeks.implied_volatility is None
    assert no_greeks.latest_trade is None
    assert no_greeks.latest_quote is not None
    no_bid = snaps[special["no_bid"]].latest_quote
    assert (no_bid.bid_price, no_bid.bid_size) == (0, 0) and no_bid.ask_price > 0
    no_trade = snaps[special["no_trade"]]
    assert no_trade.latest_trade is None and no_trade.greeks is not None and no_trade.latest_quote is not None

    _, _, raw = wire.get("/v1beta1/options/snapshots", symbols=names)
    assert raw["next_page_token"] is None
    body = raw["snapshots"]
    assert set(body[special["no_greeks"]]) == {"latestQuote"}
    assert "latestTrade" not in body[special["no_trade"]]
    assert set(body[normal]["greeks"]) == {"delta", "gamma", "rho", "theta", "vega"}
    assert isinstance(body[normal]["latestQuote"]["c"], str)
    assert MARKET_STAMP.fullmatch(body[normal]["latestQuote"]["t"])
    _, _, chain = wire.get("/v1beta1/options/snapshots/AAPL")
    daily = [snap["dailyBar"] for snap in chain["snapshots"].values() if "dailyBar" in snap]
    assert 0 < len(daily) < 72  # some contracts carry one; the SDK ignores it
    for bar in daily:
        assert_plausible_bar(bar)
        assert bar["t"] == "2024-06-05T04:00:00Z"


def test_option_chain_with_filters(wire):
    client = option_client(wire)
    chain = client.get_option_chain(OptionChainRequest(underlying_symbol="AAPL"))
    assert sorted(chain) == wire.catalog()["options"]["AAPL"]
    picked = client.get_option_chain(OptionChainRequest(
        underlying_symbol="AAPL", type=ContractType.CALL, strike_price_gte=185, strike_price_lte=195,
        expiration_date=date(2024, 6, 7)))
    assert sorted(picked) == ["AAPL240607C00185000", "AAPL240607C00190000", "AAPL240607C00195000"]
    puts = client.get_option_chain(OptionChainRequest(
        underlying_symbol="SPY", type=ContractType.PUT, expiration_date_gte=date(2024, 6, 14),
        expiration_date_lte="2024-06-21", root_symbol="SPY"))
    assert len(puts) == 18 and all(s[3:9] in ("240614", "240621") and s[9] == "P" for s in puts)
    recent = client.get_option_chain(OptionChainRequest(underlying_symbol="MSFT",
                                                        updated_since=datetime(2024, 6, 5, 18, 1)))
    assert recent == {}
    assert client.get_option_chain(OptionChainRequest(underlying_symbol="ZZZZ")) == {}
    assert wire.get("/v1beta1/options/snapshots/ZZZZ")[2] == {"snapshots": {}, "next_page_token": None}


def test_option_chain_pages(wire):
    seen, token, pages = [], None, 0
    while True:
        status, _, page = wire.get("/v1beta1/options/snapshots/SPY", limit=10, page_token=token)
        assert status == 200 and len(page["snapshots"]) <= 10
        seen.extend(page["snapshots"])
        pages += 1
        token = page["next_page_token"]
        if token is None:
            break
    assert pages == 8 and seen == wire.catalog()["options"]["SPY"]
    _, _, default = wire.get("/v1beta1/options/snapshots/SPY")
    assert len(default["snapshots"]) == 72 and default["next_page_token"] is None


def test_option_latest_quote_and_trade(wire):
    special = wire.catalog()["option_special"]
    names = ["MSFT240621P00410000", special["no_trade"], special["no_bid"], "MSFT300621P00410000"]
    client = option_client(wire)
    quotes = client.get_option_latest_quote(OptionLatestQuoteRequest(symbol_or_symbols=names))
    trades = client.get_option_latest_trade(OptionLatestTradeRequest(symbol_or_symbols=names))
    assert set(quotes) == set(names[:3])
    assert set(trades) == {names[0], special["no_bid"]}
    assert quotes[special["no_bid"]].bid_price == 0
    assert isinstance(quotes[names[0]].conditions, str)
    assert quotes[names[0]].bid_price <= trades[names[0]].price <= quotes[names[0]].ask_price
    _, _, raw = wire.get("/v1beta1/options/trades/latest", symbols=names)
    assert set(raw["trades"][names[0]]) == {"t", "x", "p", "s", "c"}


# --- trading ------------------------------------------------------------------------------------


def test_clock_and_account(wire):
    client = trading_client(wire)
    clock = client.get_clock()
    assert isinstance(clock, Clock) and clock.is_open
    assert clock.timestamp == NOW_DT
    assert clock.next_close == datetime(2024, 6, 5, 20, 0, tzinfo=UTC)
    assert clock.next_open == datetime(2024, 6, 6, 13, 30, tzinfo=UTC)
    raw = wire.get("/v2/clock")[2]
    assert raw == {"timestamp": "2024-06-05T14:00:00.123-04:00", "is_open": True,
                   "next_open": "2024-06-06T09:30:00-04:00", "next_close": "2024-06-05T16:00:00-04:00"}
    account = client.get_account()
    assert isinstance(account, TradeAccount) and account.status == AccountStatus.ACTIVE
    assert float(account.buying_power) > 0 and account.currency == "USD"
    raw = wire.get("/v2/account")[2]
    assert all(isinstance(raw[k], str) for k in ("cash", "equity", "buying_power", "portfolio_value"))


def test_cli_now_and_winter_clock():
    with SandboxServer(now="2024-01-10T15:00:00Z") as other:
        assert other.catalog()["now"] == "2024-01-10T15:00:00Z"
        assert other.get("/v2/clock")[2] == {"timestamp": "2024-01-10T10:00:00-05:00", "is_open": True,
                                              "next_open": "2024-01-11T09:30:00-05:00",
                                              "next_close": "2024-01-10T16:00:00-05:00"}
        latest = other.get("/v2/stocks/bars/latest", symbols="KO")[2]
        assert latest["bars"]["KO"]["t"] == "2024-01-10T15:00:00Z"


# --- errors as the SDK sees them ----------------------------------------------------------------


def test_wrong_keys_are_401_with_alpaca_bodies(wire):
    with pytest.raises(APIError) as data_error:
        stock_client(wire, secret="wrong").get_stock_latest_quote(
            StockLatestQuoteRequest(symbol_or_symbols="AAPL"))
    assert data_error.value.status_code == 401 and data_error.value.message == "unauthorized."
    with pytest.raises(APIError) as trading_error:
        trading_client(wire, secret="wrong").get_clock()
    assert trading_error.value.status_code == 401
    assert (trading_error.value.code, trading_error.value.message) == (40110000, "request is not authorized")
    assert wire.count() == 2


def test_validation_error_through_the_sdk(wire):
    backwards = StockBarsRequest(symbol_or_symbols="AAPL", timeframe=TimeFrame.Day,
                                 start=datetime(2024, 6, 5), end=datetime(2024, 6, 1))
    with pytest.raises(APIError) as error:
        stock_client(wire).get_stock_bars(backwards)
    assert error.value.status_code == 400 and error.value.message == "end should not be before start"
    with pytest.raises(KeyError):
        error.value.code  # data API errors carry no code


@pytest.mark.parametrize("path, query, message", [
    ("/v2/stocks/quotes/latest", {}, "missing symbols"),
    ("/v2/stocks/snapshots", {"symbols": "aapl"}, "invalid symbol: aapl"),
    ("/v2/stocks/trades/latest", {"symbols": "AAPL,TOO-LONG-SYMBOL"}, "invalid symbol: TOO-LONG-SYMBOL"),
    ("/v2/stocks/quotes/latest", {"symbols": "AAPL", "feed": "nasdaq"}, "invalid feed: nasdaq"),
    ("/v2/stocks/bars", {"symbols": "AAPL"}, "missing timeframe"),
    ("/v2/stocks/bars", {"symbols": "AAPL", "timeframe": "60Min"}, "invalid timeframe: 60Min"),
    ("/v2/stocks/bars", {"symbols": "AAPL", "timeframe": "24Hour"}, "invalid timeframe: 24Hour"),
    ("/v2/stocks/bars", {"symbols": "AAPL", "timeframe": "2Day"}, "invalid timeframe: 2Day"),
    ("/v2/stocks/bars", {"symbols": "AAPL", "timeframe": "2Week"}, "invalid timeframe: 2Week"),
    ("/v2/stocks/bars", {"symbols": "AAPL", "timeframe": "5Month"}, "invalid timeframe: 5Month"),
    ("/v2/stocks/bars", {"symbols": "AAPL", "timeframe": "1Sec"}, "invalid timeframe: 1Sec"),
    ("/v2/stocks/bars", {"symbols": "AAPL", "timeframe": "1Day", "limit": "0"}, "invalid limit"),
    ("/v2/stocks/bars", {"symbols": "AAPL", "timeframe": "1Day", "limit": "10001"}, "invalid limit"),
    ("/v2/stocks/bars", {"symbols": "AAPL", "timeframe": "1Day", "limit": "ten"}, "invalid limit"),
    ("/v2/stocks/bars", {"symbols": "AAPL", "timeframe": "1Day", "start": "yesterday"}, "invalid start"),
    ("/v2/stocks/bars", {"symbols": "AAPL", "timeframe": "1Day", "start": "2024-13-01"}, "invalid start"),
    ("/v2/stocks/bars", {"symbols": "AAPL", "timeframe": "1Day", "end": "2024-06-05T25:00:00Z"},
     "invalid end"),
    ("/v2/stocks/bars", {"symbols": "AAPL", "timeframe": "1Day", "start": "2024-06-05", "end": "2024-06-04"},
     "end should not be before start"),
    ("/v2/stocks/bars", {"symbols": "AAPL", "timeframe": "1Day", "sort": "up"}, "invalid sort: up"),
    ("/v2/stocks/bars", {"symbols": "AAPL", "timeframe": "1Day", "page_token": "!!"}, "invalid page token"),
    ("/v1beta1/options/snapshots", {"symbols": "AAPL"}, "invalid symbol: AAPL"),
    ("/v1beta1/options/snapshots", {"symbols": "AAPL240607C00190000", "feed": "sip"}, "invalid feed: sip"),
    ("/v1beta1/options/snapshots", {"symbols": "AAPL240607C00190000", "limit": "1001"}, "invalid limit"),
    ("/v1beta1/options/quotes/latest", {}, "missing symbols"),
    ("/v1beta1/options/snapshots/AAPL", {"type": "both"}, "invalid type: both"),
    ("/v1beta1/options/snapshots/AAPL", {"expiration_date": "06/07/2024"}, "invalid expiration_date"),
    ("/v1beta1/options/snapshots/AAPL", {"strike_price_gte": "high"}, "invalid strike_price_gte"),
    ("/v1beta1/options/snapshots/aapl", {}, "invalid underlying symbol: aapl"),
])
def test_validation_400s(wire, path, query, message):
    status, headers, body = wire.get(path, **query)
    assert status == 400
    assert list(body) == ["message"] and body["message"].startswith(message)
    assert headers["X-RateLimit-Limit"] == "200"


def test_unknown_path_is_404(wire):
    paths = ("/v2/stocks/nothing", "/v3/stocks/bars", "/v1beta1/options/snapshots/AAPL/extra", "/v2/assets")
    for path in paths:
        status, _, body = wire.get(path)
        assert (status, body) == (404, {"message": "Not Found"})
