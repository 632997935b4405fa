"""The market-data stream on the real pieces: `opitios stream` processes, the sandbox's stream, Redis and the gateway.

The gateway here is an app in this process whose Redis namespace the streamers share; its
refresh-ahead is running, so it both publishes what clients ask for and would spend REST calls
on hot quotes if the stream did not keep them fresh.
"""

import os
import subprocess
import sys
import time
from contextlib import ExitStack
from datetime import datetime

import pytest
from websockets.sync.client import connect

from harness.database import migrated_sqlite
from harness.servers import ROOT, StreamerProcess
from opitios.access.keys import create_key
from opitios.db import make_engine
from opitios.shared_redis import SharedRedis
from tests.waiting import eventually

SNAPSHOTS = "/v2/stocks/snapshots"
PATIENCE = 60  # seconds any one wait may take on a busy machine; none takes more than a few on an idle one


@pytest.fixture
def stream_database(tmp_path):
    """The database the gateway and the streamers of a test share: (URL, engine, a read key).

    Never the session's: a streamer killed by its pid must not hold the suite's own SQLite file.
    """
    url = migrated_sqlite(tmp_path, "stream.db")
    engine = make_engine(url)
    key, _ = create_key(engine, "stream tests", ["read"])
    yield url, engine, key
    engine.dispose()


@pytest.fixture
def rows(stream_database, rows_of):
    """Configuration rows of the database the gateway and the streamers read."""
    return rows_of(stream_database[1])


@pytest.fixture
def gateway(redis_url, make_app, sandbox, rows, stream_database):
    """A test client of the gateway; the sandbox's market is open and its REST clock live (answers age as real ones).

    ``redis_url`` comes first so the namespace is cleaned up after the app's background threads have stopped.
    """
    sandbox.switches(market="open", clock="live")
    rows.put("rate_limits", {"keyed_per_minute": 1_000_000, "keyed_per_hour": 1_000_000})  # the tests poll hard
    url, _, key = stream_database
    app = make_app(REDIS_URL=redis_url, DATABASE_URL=url)
    app.config["TEST_API_KEY"] = key
    return app.test_client()


@pytest.fixture
def streamers(redis_url, sandbox, stream_database):
    """Start `opitios stream` processes on the sandbox, the test's Redis namespace and the gateway's database."""
    env = {**sandbox.gateway_env(), "REDIS_URL": redis_url, "DATABASE_URL": stream_database[0]}  # the prefix is in os.environ
    with ExitStack() as stack:
        yield lambda: stack.enter_context(StreamerProcess(env))
    eventually(lambda: sandbox.stream()["open"] == 0, timeout=PATIENCE)  # nothing left connected for the next test


def quote(client, symbol: str = "AAPL") -> dict:
    sent = time.time()
    response = client.get(f"/api/v1/stocks/{symbol}/quote")
    assert response.status_code == 200, response.get_json()
    return {**response.get_json(), "sent": sent}


def age(answer: dict) -> float:
    """How old the datum was when the request was sent (an upper bound of its age when it was read)."""
    return answer["sent"] - datetime.fromisoformat(answer["metadata"]["data_timestamp"]).timestamp()


def from_stream(client, symbol: str = "AAPL") -> dict:
    """Ask until an answer comes from the stream (asking is what makes the symbol hot)."""
    return eventually(lambda: (answer := quote(client, symbol))["metadata"]["source"] == "stream" and answer,
                      timeout=PATIENCE)


def stream_report(client) -> dict:
    return client.get("/api/v1/health/ready").get_json()["data"]["stream"]


def rest_values(sandbox, *symbols: str) -> dict:
    return sandbox.get(SNAPSHOTS, symbols=",".join(symbols), feed="iex")[2]


def holder_pid(report: dict) -> int | None:
    holder = report.get("holder")
    return int(holder.split(":")[1]) if holder else None


def test_a_hot_quote_comes_from_the_stream_and_costs_no_snapshot_call(gateway, sandbox, rows, streamers):
    ttl = 2  # without the stream, a hot quote would cost a snapshot call every 2 s
    rows.put("cache_ttl", {"stock_quote_open": ttl})
    rows.put("stream", {"max_lag_seconds": 10})  # generous: no pause of a busy machine makes the stream look late
    assert quote(gateway, "AAPL")["metadata"]["source"] == "rest"
    streamers()
    from_stream(gateway, "AAPL")
    from_stream(gateway, "XYZ")
    before = sandbox.count(SNAPSHOTS)
    started, stamps, answers = time.time(), set(), []
    while time.time() < started + 3 * ttl or len(stamps) < 5:  # three TTLs at least, and five new quotes
        for symbol in ("AAPL", "XYZ"):
            answers.append(quote(gateway, symbol))
        stamps.add(answers[-2]["data"]["quote_timestamp"])
    assert sandbox.count(SNAPSHOTS) == before  # neither a client's miss nor refresh-ahead asked the upstream
    assert {answer["metadata"]["source"] for answer in answers} == {"stream"}
    rest = rest_values(sandbox, "AAPL", "XYZ")
    for answer in answers:
        data, snapshot = answer["data"], rest[answer["data"]["symbol"]]
        assert (data["ask_price"], data["ask_size"], data["last_price"], data["last_size"], data["volume"]) == (
            snapshot["latestQuote"]["ap"], snapshot["latestQuote"]["as"], snapshot["latestTrade"]["p"],
            snapshot["latestTrade"]["s"], snapshot["dailyBar"]["v"])
        assert answer["metadata"]["data_timestamp"] == data["quote_timestamp"] and answer["metadata"]["cache"] == "hit"
    assert all((a["data"]["bid_price"], a["data"]["bid_size"]) == (None, None) for a in answers if a["data"]["symbol"] == "XYZ")
    report = stream_report(gateway)
    assert (report["state"], report["connected"], report["healthy"], report["subscribed"]) == ("streaming", True, True, 2)
    assert report["lag_seconds"] >= 0 and report["counts"]["lease_changes"] == 1
    scraped = gateway.get("/metrics").get_data(as_text=True).splitlines()
    for line in ("opitios_stream_connected 1.0", "opitios_stream_subscribed_symbols 2.0",
                 "opitios_stream_lease_changes_total 1.0", "opitios_stream_reconnects_total 0.0"):
        assert line in scraped
    assert any(line.startswith('opitios_stream_messages_total{part="quote"}') for line in scraped)
    assert any(line.startswith("opitios_stream_lag_seconds ") for line in scraped)


def test_one_connection_per_deployment_and_a_killed_holder_is_replaced(gateway, sandbox, streamers):
    first, second = streamers(), streamers()
    answers = [from_stream(gateway)]
    holder = holder_pid(stream_report(gateway))
    active, standby = (first, second) if holder == first.pid else (second, first)
    assert holder == active.pid

    def one_connection() -> dict:
        stats = sandbox.stream()
        assert stats["authenticated"] <= 1 and "406" not in stats["errors"]
        return stats

    eventually(lambda: "waiting for the lease" in standby.output(), timeout=PATIENCE)
    assert one_connection()["handshakes"] == 1
    active.kill()  # SIGKILL: no goodbye, the lease lapses by itself

    def taken_over() -> bool:
        answers.append(quote(gateway))
        one_connection()
        report = stream_report(gateway)
        return holder_pid(report) == standby.pid and report["connected"] and answers[-1]["metadata"]["source"] == "stream"

    eventually(taken_over, timeout=PATIENCE)
    assert one_connection()["handshakes"] == 2
    assert stream_report(gateway)["counts"]["lease_changes"] == 2
    # No answer older than its TTL (5 s): a REST quote is stamped 0.5 s before the sandbox answers, and 1.5 s
    # more allow for the upstream call itself on a busy machine.
    assert max(age(answer) for answer in answers) <= 5 + 0.5 + 1.5


def test_a_holder_that_loses_its_lease_closes_its_connection(gateway, sandbox, streamers, redis_url, redis_prefix):
    streamers()
    from_stream(gateway)
    shared = SharedRedis(redis_url, max_connections=1, prefix=redis_prefix)
    lease = shared.key("stream:iex:lease")
    try:
        shared.client.set(lease, "another-streamer", px=60_000)  # as if another took it over during a long pause
        eventually(lambda: sandbox.stream()["authenticated"] == 0, timeout=PATIENCE)  # it let go at its next renewal
        eventually(lambda: quote(gateway)["metadata"]["source"] == "rest", timeout=PATIENCE)
        shared.client.delete(lease)  # the other is gone: the lease lapses to whoever asks next
        from_stream(gateway)
        assert sandbox.stream()["handshakes"] == 2 and "406" not in sandbox.stream()["errors"]
    finally:
        shared.close()


@pytest.mark.parametrize("failure", [{"down": True}, {"stall": True}, {"delay_ms": 4000}], ids=["dropped", "stalled", "slow"])
def test_a_failing_stream_hands_its_symbols_back_to_rest(gateway, sandbox, rows, streamers, failure):
    lag = 1
    rows.put("stream", {"max_lag_seconds": lag})
    streamers()
    from_stream(gateway)
    calls = sandbox.count(SNAPSHOTS)
    sandbox.stream(**failure)
    answers = []

    def fell_back() -> bool:
        answers.append(quote(gateway))
        return answers[-1]["metadata"]["source"] == "rest"

    eventually(fell_back, timeout=PATIENCE)
    fallback = answers[-1]
    assert sandbox.count(SNAPSHOTS) > calls  # REST took over
    snapshot = rest_values(sandbox, "AAPL")["AAPL"]
    assert (fallback["data"]["ask_price"], fallback["data"]["last_price"]) == (
        snapshot["latestQuote"]["ap"], snapshot["latestTrade"]["p"])
    assert fallback["metadata"]["cache"] in ("miss", "hit")
    # Until then, the stream's answers were at most as old as its threshold lets them be: written while its newest
    # datum was within max_lag_seconds, vouched for max_lag_seconds more (plus a tick of the sandbox's stream).
    assert all(age(answer) <= 2 * lag + 0.5 for answer in answers if answer["metadata"]["source"] == "stream")
    expected = ("backing_off", "connecting") if "down" in failure else ("lagging",)
    eventually(lambda: stream_report(gateway)["state"] in expected, timeout=PATIENCE)
    assert not stream_report(gateway)["healthy"]
    sandbox.stream(down=False, stall=False, delay_ms=0)
    from_stream(gateway)  # and back, by itself
    if "down" in failure:  # counted in Redis with the streamer's next report
        eventually(lambda: stream_report(gateway)["counts"].get("reconnects", 0) >= 1, timeout=PATIENCE)
        assert sandbox.stream()["handshakes"] >= 2


def test_the_subscription_follows_interest_within_the_cap_without_reconnecting(gateway, sandbox, rows, streamers):
    rows.put("stream", {"max_symbols": 2})
    rows.put("cache_ttl", {"refresh_ahead_window": 3})  # a symbol nobody asked for in 3 s is no longer hot
    streamers()
    seen = []

    def streaming(symbols: list[str]):
        def check() -> bool:
            for symbol in symbols:
                quote(gateway, symbol)
            subscribed = set(sandbox.stream()["subscriptions"].get("quotes", []))
            seen.append(subscribed)
            return subscribed == set(symbols)

        return check

    eventually(streaming(["AAPL", "MSFT"]), timeout=PATIENCE)
    # Interest moves: SPY is asked for and MSFT no more. SPY waits while MSFT is hot, then takes its place.
    eventually(streaming(["AAPL", "SPY"]), timeout=PATIENCE)
    assert max(len(subscribed) for subscribed in seen) <= 2
    assert sandbox.stream()["handshakes"] == 1  # the subscription changed on the one connection
    assert stream_report(gateway)["subscribed"] == 2


def test_the_upstreams_symbol_limit_lowers_the_cap(gateway, sandbox, rows, streamers):
    sandbox.stream(symbol_limit=1)  # the account allows fewer symbols than stream.max_symbols says
    rows.put("stream", {"max_symbols": 2})
    streamers()

    def kept_to_one() -> bool:
        quote(gateway, "AAPL")
        quote(gateway, "MSFT")
        report = stream_report(gateway)
        return report["counts"].get("errors:405", 0) >= 1 and report["subscribed"] == 1

    eventually(kept_to_one, timeout=PATIENCE)
    streamed = set(sandbox.stream()["subscriptions"]["quotes"])
    assert len(streamed) == 1
    from_stream(gateway, streamed.pop())


def test_no_field_is_invented_when_only_part_of_a_quote_streams(gateway, sandbox, rows, streamers):
    sandbox.stream(mute=["trades", "dailyBars"])  # only bid/ask stream; last and volume never do
    sandbox.switches(clock="frozen", now="2026-01-15T15:30:00Z")  # REST answers are recognisable by their time
    rows.put("cache_ttl", {"stock_quote_open": 3})
    rows.put("stream", {"max_lag_seconds": 10})
    rest = rest_values(sandbox, "AAPL", "NOTRD")
    streamers()
    from_stream(gateway, "AAPL")
    from_stream(gateway, "NOTRD")
    calls = sandbox.count(SNAPSHOTS)
    answers = []

    def refreshed_twice() -> bool:
        answers.extend([quote(gateway, "AAPL"), quote(gateway, "NOTRD")])
        return sandbox.count(SNAPSHOTS) >= calls + 2

    # The snapshot's last and volume serve beside the stream's bid/ask only within the snapshot's TTL: REST is asked again.
    eventually(refreshed_twice, timeout=PATIENCE)
    for answer in answers:
        data, snapshot = answer["data"], rest[answer["data"]["symbol"]]
        trade = snapshot.get("latestTrade") or {}
        assert (data["last_price"], data["last_size"], data["trade_timestamp"]) == (trade.get("p"), trade.get("s"), trade.get("t"))
        assert data["volume"] == (snapshot.get("dailyBar") or {}).get("v")  # NOTRD never traded: null, from REST
        if answer["metadata"]["source"] == "stream":
            assert data["quote_timestamp"] > snapshot["latestQuote"]["t"]  # the stream's, live; the REST one is frozen
        else:
            assert data["quote_timestamp"] == snapshot["latestQuote"]["t"]
        assert answer["metadata"]["data_timestamp"] == data["quote_timestamp"]
    assert {answer["metadata"]["source"] for answer in answers} >= {"stream"}


def test_a_connection_limit_means_backing_off_not_fighting(gateway, sandbox, streamers):
    with connect(f"{sandbox.stream_url}/v2/iex", open_timeout=10) as other:  # another client holds the account's stream
        other.recv(timeout=10)
        other.send('{"action":"auth","key":"%s","secret":"%s"}' % (sandbox.key, sandbox.secret))
        assert "authenticated" in other.recv(timeout=10)
        streamers()

        def refused() -> dict | bool:
            quote(gateway)
            report = stream_report(gateway)
            return report["state"] == "backing_off" and "406" in (report["last_error"] or "") and report

        report = eventually(refused, timeout=PATIENCE)
        assert not report["connected"] and report["retry_in_seconds"] is not None
        eventually(lambda: stream_report(gateway)["counts"].get("errors:406") == sandbox.stream()["errors"]["406"],
                   timeout=PATIENCE)
    from_stream(gateway)  # the other connection is gone: the streamer's next try connects


def test_the_streamer_refuses_to_start_without_redis(sandbox, tmp_path):
    env = {**os.environ, **sandbox.gateway_env(), "DATABASE_URL": f"sqlite:///{tmp_path / 'none.db'}"}
    env.pop("REDIS_URL", None)
    done = subprocess.run([sys.executable, "-m", "opitios", "stream"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=PATIENCE)
    assert done.returncode == 1 and "needs REDIS_URL" in done.stderr
