"""The Alpaca wire mapping refuses bodies Alpaca would never send, instead of guessing at them."""

import pytest

from providers.alpaca import wire
from providers.base import UpstreamInvalidResponse

QUOTE = {"t": "2024-06-03T18:59:59.912345678Z", "bp": 192.55, "bs": 2, "ap": 192.59, "as": 3}
TRADE = {"t": "2024-06-03T18:59:59.654321987Z", "p": 192.57, "s": 100}


@pytest.mark.parametrize(
    "snapshot",
    [
        {"latestQuote": {**QUOTE, "bp": "192.55"}},
        {"latestQuote": {**QUOTE, "as": True}},
        {"latestQuote": {**QUOTE, "t": 1717441199}},
        {"latestQuote": [QUOTE]},
        {"latestTrade": {**TRADE, "p": None, "s": "100"}},
        "not a snapshot",
    ],
)
def test_wrongly_typed_snapshots_are_invalid_responses(snapshot):
    with pytest.raises(UpstreamInvalidResponse):
        wire.stock_quote("AAPL", snapshot)


def test_a_snapshot_with_neither_quote_nor_trade_is_no_data():
    assert wire.stock_quote("AAPL", {"dailyBar": {"t": "2024-06-03T04:00:00Z", "v": 5}}) is None
    assert wire.stock_quote("AAPL", None) is None
    assert wire.option_quote("AAPL240607C00190000", {}) is None


def test_partial_greeks_keep_what_was_sent_and_null_the_rest():
    quote = wire.option_quote("AAPL240607C00190000", {"latestQuote": QUOTE, "greeks": {"delta": 0.5}})
    assert quote["greeks"] == {"delta": 0.5, "gamma": None, "theta": None, "vega": None, "rho": None}


@pytest.mark.parametrize(
    "body",
    [
        {"bars": {"AAPL": {"t": "x"}}},
        {"bars": {"AAPL": [{"o": 1.0}]}},
        {"bars": [], "next_page_token": None},
        {"bars": {"AAPL": []}, "next_page_token": 7},
    ],
)
def test_malformed_bar_pages_are_invalid_responses(body):
    with pytest.raises(UpstreamInvalidResponse):
        wire.bars_page(body, "AAPL", "1Day")


@pytest.mark.parametrize(
    "body",
    [
        {"timestamp": "2024-06-03T15:00:00-04:00", "next_open": "x", "next_close": "2024-06-03T16:00:00-04:00", "is_open": True},
        {"timestamp": "2024-06-03T15:00:00-04:00", "next_open": "2024-06-04T09:30:00-04:00", "next_close": "2024-06-03T16:00:00-04:00"},
    ],
)
def test_an_unreadable_clock_is_an_invalid_response(body):
    with pytest.raises(UpstreamInvalidResponse):
        wire.market_clock(body)
