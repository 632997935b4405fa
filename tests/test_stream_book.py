"""The streamer's merge rules: an entry is written only when every part is the stream's or a REST snapshot's within its TTL."""

from opitios.cache import Entry
from opitios.stream.book import QuoteBook
from opitios.stream.interest import follow
from providers.base import StreamUpdate

NOW = 1_800_000_000.0
REST = {
    "symbol": "AAPL", "bid_price": 190.1, "bid_size": 3, "ask_price": 190.14, "ask_size": 6, "last_price": 190.11,
    "last_size": 300, "volume": 38361161, "quote_timestamp": "2027-01-15T08:00:00.5Z", "trade_timestamp": "2027-01-15T07:59:59Z",
}
QUOTE = StreamUpdate("AAPL", "quote", {"bid_price": None, "bid_size": None, "ask_price": 190.2, "ask_size": 1,
                                       "quote_timestamp": "2027-01-15T08:00:01.25Z"}, "2027-01-15T08:00:01.25Z")
TRADE = StreamUpdate("AAPL", "trade", {"last_price": 190.19, "last_size": 5, "trade_timestamp": "2027-01-15T08:00:01.1Z"},
                     "2027-01-15T08:00:01.1Z")
DAILY = StreamUpdate("AAPL", "daily", {"volume": 38400000}, "2027-01-15T05:00:00Z")


def book(*updates: StreamUpdate) -> QuoteBook:
    quotes = QuoteBook()
    quotes.follow({"AAPL"})
    for update in updates:
        assert quotes.heard(update)
    return quotes


def test_nothing_is_written_while_a_part_has_come_from_nowhere():
    assert book(QUOTE).entry("AAPL", NOW, vouch_seconds=2) is None
    assert book(QUOTE, TRADE).entry("AAPL", NOW, vouch_seconds=2) is None


def test_every_part_from_the_stream_is_vouched_for_the_lag_threshold():
    entry = book(QUOTE, TRADE, DAILY).entry("AAPL", NOW, vouch_seconds=2)
    assert entry.source == "stream" and entry.ttl == 2 and entry.fetched_at == NOW
    assert entry.value == {"symbol": "AAPL", **QUOTE.fields, **TRADE.fields, **DAILY.fields}
    assert entry.data_timestamp == QUOTE.timestamp  # the quote's own time, as for a REST answer
    assert (entry.value["bid_price"], entry.value["bid_size"]) == (None, None)  # a side with no quote stays null


def test_missing_parts_come_from_a_rest_snapshot_only_within_its_ttl():
    quotes = book(QUOTE)
    quotes.seed("AAPL", Entry(REST, REST["quote_timestamp"], fetched_at=NOW - 4, ttl=5))
    entry = quotes.entry("AAPL", NOW, vouch_seconds=2)
    assert entry.value["ask_price"] == 190.2 and entry.value["quote_timestamp"] == QUOTE.timestamp  # the stream's quote
    assert (entry.value["last_price"], entry.value["trade_timestamp"], entry.value["volume"]) == (
        REST["last_price"], REST["trade_timestamp"], REST["volume"])  # the snapshot's trade and volume, unchanged
    assert abs(entry.ttl - 1) < 1e-9  # no longer than the snapshot's own freshness: 1 s of its 5 s are left
    assert quotes.entry("AAPL", NOW + 1, vouch_seconds=2) is None  # and then not at all
    quotes.seed("AAPL", Entry(REST, REST["quote_timestamp"], fetched_at=NOW, ttl=5))  # a newer snapshot
    assert quotes.entry("AAPL", NOW + 1, vouch_seconds=2).ttl == 2


def test_a_pushed_part_replaces_the_snapshots_and_a_stream_entry_is_never_a_seed():
    quotes = book(QUOTE)
    quotes.seed("AAPL", Entry(REST, REST["quote_timestamp"], fetched_at=NOW - 4, ttl=5))
    quotes.heard(TRADE)
    quotes.heard(DAILY)
    assert not quotes.needs_rest("AAPL")
    assert quotes.entry("AAPL", NOW + 10, vouch_seconds=2).value["last_price"] == TRADE.fields["last_price"]
    other = book(QUOTE)
    other.seed("AAPL", Entry(REST, None, fetched_at=NOW, ttl=2, source="stream"))  # another holder's: provenance unknown
    assert other.entry("AAPL", NOW, vouch_seconds=2) is None


def test_a_snapshot_alone_is_not_a_stream_entry():
    quotes = book()
    quotes.seed("AAPL", Entry(REST, REST["quote_timestamp"], fetched_at=NOW, ttl=5))
    assert quotes.entry("AAPL", NOW, vouch_seconds=2) is None  # the REST entry in the cache already says all of it


def test_forgotten_symbols_and_a_cleared_book_hold_nothing():
    quotes = book(QUOTE, TRADE, DAILY)
    quotes.clear()
    assert quotes.entry("AAPL", NOW, vouch_seconds=2) is None
    assert not quotes.heard(QUOTE)  # no longer followed: a late message is dropped


def test_the_subscription_keeps_what_it_streams_and_adds_the_newest_up_to_the_cap():
    recent = {"SPY": 30.0, "AAPL": 20.0, "MSFT": 10.0}  # newest first
    assert follow(recent, set(), cap=2) == {"SPY", "AAPL"}
    assert follow(recent, {"MSFT"}, cap=2) == {"MSFT", "SPY"}  # a streamed symbol still asked for stays
    assert follow({"SPY": 30.0}, {"MSFT", "AAPL"}, cap=2) == {"SPY"}  # and goes once nobody asks for it
