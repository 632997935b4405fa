"""The sandbox's market-data stream speaks Alpaca's protocol: alpaca-py's own stream client reads it, and the
control messages, errors and switches behave as Alpaca's (and the sandbox's README) describe."""
import json
import threading
from contextlib import ExitStack
from datetime import datetime, timedelta, timezone

import msgpack
import pytest
from alpaca.data.live.stock import StockDataStream
from alpaca.data.models import Bar, Quote, Trade
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from tests.waiting import eventually

UTC = timezone.utc
DATA = {"q", "t", "d"}


def url(sandbox, feed="iex"):
    return f"{sandbox.stream_url}/v2/{feed}"


class Raw:
    """A bare websocket client of the stream, JSON or msgpack, for what alpaca-py does not show."""

    def __init__(self, sandbox, stack: ExitStack, binary=False):
        headers = {"Content-Type": "application/msgpack"} if binary else {}
        self.ws = stack.enter_context(connect(url(sandbox), additional_headers=headers, open_timeout=10))
        self.binary = binary
        self.sandbox = sandbox

    def send(self, message: dict) -> None:
        self.ws.send(msgpack.packb(message) if self.binary else json.dumps(message))

    def frame(self, timeout: float = 10) -> list[dict]:
        raw = self.ws.recv(timeout=timeout)
        assert isinstance(raw, bytes) == self.binary  # binary frames for msgpack, text frames for JSON
        return msgpack.unpackb(raw) if self.binary else json.loads(raw)

    def control(self, timeout: float = 10) -> dict:
        """The next control message (data frames in between are skipped); control frames hold exactly one."""
        while True:
            frame = self.frame(timeout)
            if frame[0]["T"] not in DATA:
                assert len(frame) == 1
                return frame[0]

    def data(self, timeout: float = 10) -> list[dict]:
        while True:
            frame = self.frame(timeout)
            if frame[0]["T"] in DATA:
                return frame

    def login(self) -> "Raw":
        assert self.control() == {"T": "success", "msg": "connected"}
        self.send({"action": "auth", "key": self.sandbox.key, "secret": self.sandbox.secret})
        assert self.control() == {"T": "success", "msg": "authenticated"}
        return self


@pytest.fixture
def raw(sandbox):
    with ExitStack() as stack:
        yield lambda binary=False: Raw(sandbox, stack, binary)
    # The next test starts with no connection left over (one per key, as on Alpaca).
    eventually(lambda: sandbox.stream()["open"] == 0)


def test_alpaca_py_stream_client_reads_quotes_trades_and_daily_bars_with_the_rest_values(sandbox):
    wall = datetime.now(UTC)
    sandbox.switches(now=wall.isoformat())  # so the REST answers are about the stream's day
    received = {}

    async def keep(item):
        received.setdefault(type(item), item)

    stream = StockDataStream(sandbox.key, sandbox.secret, url_override=url(sandbox))
    stream.subscribe_quotes(keep, "AAPL")
    stream.subscribe_trades(keep, "AAPL")
    stream.subscribe_daily_bars(keep, "AAPL")
    runner = threading.Thread(target=stream.run, daemon=True)
    runner.start()
    try:
        eventually(lambda: len(received) == 3, timeout=30)
    finally:
        stream.stop()
        runner.join(timeout=10)
    quote, trade, bar = received[Quote], received[Trade], received[Bar]
    _, _, latest = sandbox.get("/v2/stocks/quotes/latest", symbols="AAPL", feed="iex")
    rest_quote = latest["quotes"]["AAPL"]
    assert (quote.symbol, quote.bid_price, quote.bid_size, quote.ask_price, quote.ask_size, quote.bid_exchange,
            quote.ask_exchange, quote.conditions, quote.tape) == (
        "AAPL", rest_quote["bp"], rest_quote["bs"], rest_quote["ap"], rest_quote["as"], rest_quote["bx"],
        rest_quote["ax"], rest_quote["c"], rest_quote["z"])
    _, _, trades = sandbox.get("/v2/stocks/trades/latest", symbols="AAPL", feed="iex")
    rest_trade = trades["trades"]["AAPL"]
    assert (trade.price, trade.size, trade.exchange, trade.id, trade.conditions) == (
        rest_trade["p"], rest_trade["s"], rest_trade["x"], rest_trade["i"], rest_trade["c"])
    _, _, snapshots = sandbox.get("/v2/stocks/snapshots", symbols="AAPL", feed="iex")
    daily = snapshots["AAPL"]["dailyBar"]
    assert (bar.open, bar.high, bar.low, bar.close, bar.volume, bar.trade_count, bar.vwap) == (
        daily["o"], daily["h"], daily["l"], daily["c"], daily["v"], daily["n"], daily["vw"])
    assert bar.timestamp == datetime.fromisoformat(daily["t"])
    # Live: stamped with the wall clock when pushed, after this test began.
    assert quote.timestamp >= wall - timedelta(seconds=1) and trade.timestamp >= wall - timedelta(seconds=1)
    assert sandbox.stream()["errors"] == {}


def test_json_frames_carry_alpacas_strings_and_the_subscription_follows_subscribe_and_unsubscribe(sandbox, raw):
    client = raw().login()
    client.send({"action": "subscribe", "quotes": ["AAPL", "MSFT"], "trades": ["AAPL"], "dailyBars": ["AAPL"]})
    assert client.control() == {
        "T": "subscription", "trades": ["AAPL"], "quotes": ["AAPL", "MSFT"], "bars": [], "updatedBars": [],
        "dailyBars": ["AAPL"], "statuses": [], "lulds": [], "corrections": ["AAPL"], "cancelErrors": ["AAPL"]}
    frame = client.data()
    assert sorted((m["S"], m["T"]) for m in frame) == [("AAPL", "d"), ("AAPL", "q"), ("AAPL", "t"), ("MSFT", "q")]
    quote = next(m for m in frame if m["T"] == "q")
    assert quote["t"].endswith("Z") and datetime.fromisoformat(quote["t"]).tzinfo is not None
    client.send({"action": "unsubscribe", "quotes": ["MSFT"], "trades": ["AAPL"]})
    reply = client.control()
    assert (reply["quotes"], reply["trades"], reply["corrections"], reply["dailyBars"]) == (["AAPL"], [], [], ["AAPL"])
    # Frames sent after the confirmation follow the new subscription.
    assert sorted((m["S"], m["T"]) for m in client.data()) == [("AAPL", "d"), ("AAPL", "q")]


def test_msgpack_frames_carry_timestamps_as_msgpack_timestamps(sandbox, raw):
    client = raw(binary=True).login()
    client.send({"action": "subscribe", "quotes": ["XYZ"], "trades": ["NOTRD"], "dailyBars": ["NOTRD"]})
    assert client.control()["quotes"] == ["XYZ"]
    frame = client.data()
    # XYZ has no bid side (price 0, as Alpaca sends it); NOTRD never traded, so it has no trade and no bar.
    assert [(m["T"], m["S"]) for m in frame] == [("q", "XYZ")]
    quote = frame[0]
    assert isinstance(quote["t"], msgpack.Timestamp) and (quote["bp"], quote["bs"]) == (0, 0)


def test_errors_402_401_403_and_400_leave_the_connection_open(sandbox, raw):
    client = raw()
    assert client.control() == {"T": "success", "msg": "connected"}
    client.send({"action": "subscribe", "quotes": ["AAPL"]})
    assert client.control() == {"T": "error", "code": 401, "msg": "not authenticated"}
    client.send({"action": "auth", "key": sandbox.key, "secret": "wrong"})
    assert client.control() == {"T": "error", "code": 402, "msg": "auth failed"}
    client.send({"action": "auth", "key": sandbox.key, "secret": sandbox.secret})
    assert client.control() == {"T": "success", "msg": "authenticated"}
    client.send({"action": "auth", "key": sandbox.key, "secret": sandbox.secret})
    assert client.control() == {"T": "error", "code": 403, "msg": "already authenticated"}
    client.send({"action": "dance"})
    assert client.control() == {"T": "error", "code": 400, "msg": "invalid syntax"}
    assert sandbox.stream()["errors"] == {"401": 1, "402": 1, "403": 1, "400": 1}


def test_a_second_connection_with_the_same_key_is_refused_with_406(sandbox, raw):
    raw().login()
    second = raw()
    assert second.control() == {"T": "success", "msg": "connected"}
    second.send({"action": "auth", "key": sandbox.key, "secret": sandbox.secret})
    assert second.control() == {"T": "error", "code": 406, "msg": "connection limit exceeded"}
    with pytest.raises(ConnectionClosed):
        second.frame()
    stats = sandbox.stream()
    assert stats["errors"] == {"406": 1} and stats["authenticated"] == 1


def test_more_symbols_than_the_limit_is_refused_with_405_and_changes_nothing(sandbox, raw):
    sandbox.stream(symbol_limit=2)
    client = raw().login()
    client.send({"action": "subscribe", "quotes": ["AAPL", "MSFT"], "dailyBars": ["AAPL", "MSFT", "SPY"]})
    assert client.control()["quotes"] == ["AAPL", "MSFT"]  # bar channels are not capped
    client.send({"action": "subscribe", "quotes": ["SPY"]})
    assert client.control() == {"T": "error", "code": 405, "msg": "symbol limit exceeded"}
    assert sandbox.stream()["subscriptions"]["quotes"] == ["AAPL", "MSFT"]


def test_no_authentication_within_the_timeout_is_404_and_the_end(sandbox, raw):
    sandbox.stream(auth_timeout_ms=50)
    client = raw()
    assert client.control() == {"T": "success", "msg": "connected"}
    assert client.control() == {"T": "error", "code": 404, "msg": "auth timeout"}
    with pytest.raises(ConnectionClosed):
        client.frame()


def test_down_drops_connections_and_refuses_handshakes_until_it_is_lifted(sandbox, raw):
    client = raw().login()
    sandbox.stream(down=True)
    with pytest.raises(ConnectionClosed):
        while True:
            client.frame()
    with pytest.raises(InvalidStatus) as refused:
        raw()
    assert refused.value.response.status_code == 503
    stats = sandbox.stream()
    assert stats["drops"] == 1 and stats["refused_down"] == 1
    sandbox.stream(down=False)
    raw().login()


def test_stall_stops_data_but_keeps_the_connection_and_delay_makes_data_late(sandbox, raw):
    client = raw().login()
    client.send({"action": "subscribe", "quotes": ["AAPL"]})
    client.control()
    client.data()
    sandbox.stream(stall=True)
    sent = sandbox.stream()["messages"]["q"]
    eventually(lambda: sandbox.stream()["stalled_ticks"] >= 3)
    assert sandbox.stream()["messages"]["q"] <= sent + 1  # at most one frame was on its way when it stalled
    client.send({"action": "subscribe", "quotes": ["MSFT"]})
    assert client.control()["quotes"] == ["AAPL", "MSFT"]  # control messages are still answered
    sandbox.stream(stall=False, delay_ms=5000)
    while True:
        frame = client.data()
        if {m["S"] for m in frame} == {"AAPL", "MSFT"}:
            break
    received = datetime.now(UTC)
    assert all(datetime.fromisoformat(m["t"]) <= received - timedelta(seconds=5) for m in frame)


def test_mute_leaves_a_channel_out(sandbox, raw):
    sandbox.stream(mute=["trades", "dailyBars"])
    client = raw().login()
    client.send({"action": "subscribe", "quotes": ["AAPL"], "trades": ["AAPL"], "dailyBars": ["AAPL"]})
    client.control()
    assert [m["T"] for m in client.data()] == ["q"]


def test_unknown_stream_switches_and_paths_are_refused(sandbox):
    import requests

    for bad in ({"bogus": 1}, {"stall": "yes"}, {"mute": ["news"]}, {"interval_ms": 0}):
        response = requests.post(sandbox.url + "/_sandbox/stream", json=bad, timeout=5)
        assert response.status_code == 400 and "message" in response.json()
    with pytest.raises(InvalidStatus) as refused, connect(f"{sandbox.stream_url}/v2/nope", open_timeout=10):
        pass
    assert refused.value.response.status_code == 404
