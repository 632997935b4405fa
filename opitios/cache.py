"""The market-data cache: entries, and the store that holds them (Redis, or this worker's memory).

Keys are built by the data classes (``opitios.data_classes``) and stored under the deployment's
versioned namespace (``opitios:v1:quote:stock:AAPL:iex``, under ``OPITIOS_REDIS_PREFIX``). An
entry is the answer's data already rendered as JSON, its ETag, the upstream's own timestamp, the
time it was fetched, the TTL it was fetched with and its source (a REST call or the stream, see
``opitios.stream``). A hit therefore costs a look-up and nothing else: no schema dump, no
serialization, no hashing. An entry is kept ``stale_if_error_seconds`` beyond its TTL so the last
real answer can stand in for a failing upstream; data ``null`` records the upstream's answer that
it has no data for the key.

In Redis an entry is one JSON document, its data last (``{"ts":…,"at":…,"ttl":…,"src":…,
"etag":…,"data":…}``), so reading it back parses the few fields before the data and keeps the
data's bytes as they are. A value that is not such a document (another version's) is a miss.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import orjson

from opitios.json_bytes import to_json

if TYPE_CHECKING:  # the runtime schema imports the data classes, which import this: no metrics, no Redis at import
    from opitios.shared_redis import SharedRedis

# The in-worker L1 in front of Redis: at most this long, never past the entry's TTL.
L1_SECONDS = 1.0
# A stream entry changes with every push: the L1 keeps it only this long, so answers stay within it of Redis.
STREAM_L1_SECONDS = 0.1
L1_SIZE = 10_000
LOCAL_SIZE = 20_000  # entries this worker keeps for itself without Redis, or while Redis is away

_DATA = b',"data":'  # where an entry's data begins: no JSON string can hold this run unescaped
_UNREAD = object()
T = TypeVar("T")


def etag_of(body: bytes) -> str:
    """A strong validator of an answer's data (never of its metadata, which changes on every request)."""
    return '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'


class Entry:
    """One cached answer: its data (rendered), that data as JSON and its ETag, and when and how it was fetched."""

    __slots__ = ("_value", "body", "etag", "data_timestamp", "fetched_at", "ttl", "source")

    def __init__(self, value: Any, data_timestamp: str | None, fetched_at: float, ttl: float, source: str = "rest",
                 *, body: bytes | None = None, etag: str | None = None):
        """``value``: the answer's data as rendered (None: the upstream has none), serialized and hashed here,
        once; or, given its ``body`` (and ``etag``) as stored, parsed only if someone asks for it."""
        if body is None:
            body = to_json(value)
            etag = etag_of(body) if value is not None else None
        self._value = value if value is not None or etag is None else _UNREAD
        self.body = body  # the data as JSON; b"null": no data
        self.etag = etag
        self.data_timestamp = data_timestamp  # the upstream's own
        self.fetched_at = fetched_at  # Unix seconds
        self.ttl = ttl
        # "rest": fetched with a snapshot call. "stream": written by the streamer, which vouches for it
        # only a few seconds at a time (its ttl), so it lapses to REST as soon as the stream stops.
        self.source = source

    @property
    def has_data(self) -> bool:
        return self.etag is not None

    @property
    def value(self) -> Any:
        """The data as Python values, parsed on first use: a single answer never needs them."""
        if self._value is _UNREAD:
            self._value = orjson.loads(self.body)
        return self._value

    def _fields(self) -> tuple:
        return self.body, self.etag, self.data_timestamp, self.fetched_at, self.ttl, self.source

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Entry) and self._fields() == other._fields()

    def __repr__(self) -> str:
        return f"Entry({self.body[:60]!r}, {self.data_timestamp!r}, fetched_at={self.fetched_at}, ttl={self.ttl}, {self.source!r})"

    def age(self, now: float) -> float:
        return now - self.fetched_at

    def fresh(self, now: float, max_age: float | None = None) -> bool:
        age = self.age(now)
        return age < self.ttl and (max_age is None or age <= max_age)

    def usable_stale(self, now: float, stale_window: int) -> bool:
        return self.age(now) < self.ttl + stale_window

    def remaining(self, now: float) -> int:
        return max(0, int(self.ttl - self.age(now)))

    def dump(self) -> bytes:
        head = to_json({"ts": self.data_timestamp, "at": self.fetched_at, "ttl": self.ttl, "src": self.source, "etag": self.etag})
        return head[:-1] + _DATA + self.body + b"}"

    @classmethod
    def load(cls, raw: bytes | None) -> "Entry | None":
        """The entry ``dump`` wrote, or None for anything else (absent, or not in this format)."""
        cut = raw.find(_DATA) if raw else -1
        if cut < 0 or not raw.endswith(b"}"):
            return None
        try:
            head = orjson.loads(raw[:cut] + b"}")
            return cls(None, head["ts"], head["at"], head["ttl"], head["src"], body=raw[cut + len(_DATA):-1], etag=head["etag"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return None


class Memory:
    """Entries in this worker, each until its own deadline; past ``size``, the least recently used go first."""

    def __init__(self, size: int):
        self._size = size
        self._entries: OrderedDict[str, tuple[Entry, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str, now: float) -> Entry | None:
        # Without the lock: every hit reads here, and each dict operation is atomic on its own. A key that
        # put() evicts meanwhile is simply not moved to the end.
        held = self._entries.get(key)
        if held is None:
            return None
        if now >= held[1]:
            self._entries.pop(key, None)
            return None
        try:
            self._entries.move_to_end(key)
        except KeyError:
            pass
        return held[0]

    def put(self, key: str, entry: Entry, until: float) -> None:
        with self._lock:
            self._entries[key] = (entry, until)
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)


class L1:
    """A small LRU of fresh entries in this worker, so a hot key costs no round trip to Redis.

    It only ever answers with an entry still within its TTL (and its own short
    life); anything older is asked of Redis, which alone decides what is stale.
    """

    def __init__(self, seconds: float = L1_SECONDS, size: int = L1_SIZE):
        self._seconds = seconds
        self._memory = Memory(size)

    def get(self, key: str, now: float) -> Entry | None:
        entry = self._memory.get(key, now)
        return entry if entry is not None and entry.fresh(now) else None

    def put(self, key: str, entry: Entry, now: float) -> None:
        if entry.fresh(now):
            seconds = self._seconds if entry.source == "rest" else min(self._seconds, STREAM_L1_SECONDS)
            self._memory.put(key, entry, min(now + seconds, entry.fetched_at + entry.ttl))


class CacheStore:
    """Entries in Redis (shared by every worker and instance), or in this worker while Redis is away."""

    def __init__(self, shared: SharedRedis | None):
        self._shared = shared
        self._l1 = L1() if shared is not None else None
        self._local = Memory(LOCAL_SIZE)

    @property
    def mode(self) -> str:
        if self._shared is None:
            return "local"
        return "shared" if self._shared.state == "ok" else "degraded"

    def _run(self, shared: Callable[[], T], local: Callable[[], T]) -> T:
        return local() if self._shared is None else self._shared.run(shared, local)

    def get_many(self, keys: list[str], use_l1: bool = True) -> dict[str, Entry]:
        """The entries present (fresh or stale): fresh ones from the L1, the rest in one round trip.

        ``use_l1=False`` asks Redis only: for what another worker may have just written.
        """
        if not keys:
            return {}
        now = time.time()
        found = {}
        if self._l1 is not None and use_l1:
            found = {key: entry for key in keys if (entry := self._l1.get(key, now)) is not None}
        asked = [key for key in keys if key not in found]
        if asked:
            read = self._run(lambda: self._read(asked), lambda: self._read_local(asked, now))
            for key, entry in read.items():
                found[key] = entry
                if self._l1 is not None:
                    self._l1.put(key, entry, now)
        return found

    def set_many(self, entries: Mapping[str, Entry], keep_for: int) -> None:
        """Store entries for ``keep_for`` seconds (their TTL plus the stale window)."""
        if not entries:
            return
        now = time.time()
        self._run(lambda: self._write(entries, keep_for), lambda: self._write_local(entries, now + keep_for))
        if self._l1 is not None:
            for key, entry in entries.items():
                self._l1.put(key, entry, now)

    def _read(self, keys: list[str]) -> dict[str, Entry]:
        raw = self._shared.client.mget([self._shared.key(key) for key in keys])
        return {key: entry for key, value in zip(keys, raw) if (entry := Entry.load(value)) is not None}

    def _write(self, entries: Mapping[str, Entry], keep_for: int) -> None:
        pipeline = self._shared.client.pipeline(transaction=False)
        for key, entry in entries.items():
            pipeline.set(self._shared.key(key), entry.dump(), ex=keep_for)
        pipeline.execute()

    def _read_local(self, keys: list[str], now: float) -> dict[str, Entry]:
        return {key: entry for key in keys if (entry := self._local.get(key, now)) is not None}

    def _write_local(self, entries: Mapping[str, Entry], until: float) -> None:
        for key, entry in entries.items():
            self._local.put(key, entry, until)
