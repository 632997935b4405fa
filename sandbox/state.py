"""Mutable sandbox state behind one lock: the clock (frozen, or live), the switches, call counters and the rate-limit window."""
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass
from datetime import datetime
from http import HTTPStatus

from .book import Book
from .stream_state import StreamState
from .times import UTC, parse_now, rfc3339

DEFAULT_SWITCHES = {
    "latency_ms": 0,
    "error_status": None,
    "error_count": None,
    "path_prefix": None,
    "invalid_json": False,
    "rate_limit_per_minute": 200,
    "market": "auto",
    "clock": "frozen",
}
LOG_SIZE = 1000


class SwitchError(ValueError):
    """A switch change the control API refuses with 400."""


@dataclass(frozen=True)
class Context:
    """What an API handler may know about the sandbox: its frozen clock and the forced market state."""

    now: datetime
    market: str


@dataclass(frozen=True)
class Fault:
    """A deliberate failure to answer instead of the real response."""

    status: int | None
    invalid_json: bool


@dataclass(frozen=True)
class RateWindow:
    """The X-RateLimit-* values of one answer."""

    allowed: bool
    limit: int
    remaining: int
    reset: int


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_error_status(value) -> bool:
    try:
        return _is_int(value) and 400 <= value <= 599 and HTTPStatus(value) is not None
    except ValueError:
        return False


def _check(name: str, value):
    """The value to store for switch ``name``; SwitchError when it is unknown or ill-typed."""
    if name == "now":
        if value is not None and not isinstance(value, str):
            raise SwitchError("now must be an ISO 8601 string or null")
        try:
            return None if value is None else parse_now(value)
        except ValueError:
            raise SwitchError(f"invalid now: {value}") from None
    valid = {
        "latency_ms": lambda v: _is_int(v) and 0 <= v <= 600_000,
        "error_status": lambda v: v is None or _is_error_status(v),
        "error_count": lambda v: v is None or (_is_int(v) and v >= 1),
        "path_prefix": lambda v: v is None or (isinstance(v, str) and v.startswith("/")),
        "invalid_json": lambda v: isinstance(v, bool),
        "rate_limit_per_minute": lambda v: _is_int(v) and v >= 0,
        "market": lambda v: v in ("auto", "open", "closed"),
        "clock": lambda v: v in ("frozen", "live"),
    }
    if name not in valid:
        raise SwitchError(f"unknown switch: {name}")
    if not valid[name](value):
        raise SwitchError(f"invalid value for {name}: {value!r}")
    return value


class State:
    """Everything that changes while the sandbox runs; all methods are thread-safe."""

    def __init__(self, key: str, secret: str, start_now: datetime, clock: str = "frozen"):
        self.key = key
        self.secret = secret
        self._start_now = start_now
        self._start_switches = {**DEFAULT_SWITCHES, "clock": _check("clock", clock)}  # what a reset restores
        self._lock = threading.Lock()
        self.book = Book()
        self.stream = StreamState()
        self.stream_url = ""  # the websocket listener's ws:// URL, once it listens
        with self._lock:
            self._reset_locked()

    def _reset_locked(self) -> None:
        self._now = self._start_now
        self._switches = dict(self._start_switches)
        self._total = 0
        self._by_path = Counter()
        self._log = deque(maxlen=LOG_SIZE)
        self._window = None
        self._used = 0

    def reset(self) -> None:
        """Everything back to the start, the trading book and the stream (each with its own lock) included."""
        with self._lock:
            self._reset_locked()
        self.book.reset()
        self.stream.reset()

    def _clock(self) -> datetime:
        # "live" follows the wall clock (as the stream always does), so REST answers age as real ones do.
        return datetime.now(UTC) if self._switches["clock"] == "live" else self._now

    def clear_calls(self) -> None:
        """Counters, log and rate window back to zero; switches, clock and book stay as they are."""
        with self._lock:
            self._total = 0
            self._by_path = Counter()
            self._log = deque(maxlen=LOG_SIZE)
            self._window = None
            self._used = 0

    def context(self) -> Context:
        with self._lock:
            return Context(self._clock(), self._switches["market"])

    def switches(self) -> dict:
        with self._lock:
            return {**self._switches, "now": rfc3339(self._clock())}

    def update_switches(self, changes: dict) -> dict:
        """Merge ``changes`` all or nothing."""
        checked = {name: _check(name, value) for name, value in changes.items()}
        with self._lock:
            for name, value in checked.items():
                if name == "now":
                    self._now = value or self._start_now
                else:
                    self._switches[name] = value
        return self.switches()

    def record(self, method: str, path: str, query: dict, extra: dict | None = None) -> dict:
        """Count an API request on arrival (``extra`` such as a POST's "body" joins its log entry);
        its status is filled in by ``finish``. ``at`` is the arrival's wall-clock time (Unix seconds),
        so a test can count the calls in any window of time."""
        entry = {"method": method, "path": path, "query": query, **(extra or {}), "status": None, "at": time.time()}
        with self._lock:
            self._total += 1
            self._by_path[path] += 1
            self._log.append(entry)
        return entry

    def finish(self, entry: dict, status: int) -> None:
        with self._lock:
            entry["status"] = status

    def calls(self) -> dict:
        with self._lock:
            return {"total": self._total, "by_path": dict(self._by_path),
                    "log": [dict(entry, query=dict(entry["query"])) for entry in self._log]}

    def _applies(self, path: str) -> bool:
        prefix = self._switches["path_prefix"]
        return prefix is None or path.startswith(prefix)

    def latency(self, path: str) -> float:
        """Seconds to wait before answering ``path``."""
        with self._lock:
            return self._switches["latency_ms"] / 1000 if self._applies(path) else 0.0

    def take_fault(self, path: str) -> Fault | None:
        """The failure to answer with, spending one of ``error_count``; both fault switches clear at 0."""
        with self._lock:
            s = self._switches
            if not self._applies(path) or (s["error_status"] is None and not s["invalid_json"]):
                return None
            fault = Fault(s["error_status"], s["invalid_json"])
            if s["error_count"] is not None:
                s["error_count"] -= 1
                if s["error_count"] == 0:
                    s.update(error_status=None, invalid_json=False, error_count=None)
            return fault

    def _roll_window(self) -> int:
        window = int(time.time() // 60)
        if window != self._window:
            self._window, self._used = window, 0
        return (window + 1) * 60

    def take_rate(self) -> RateWindow:
        """Spend one request of the current wall-clock minute."""
        with self._lock:
            reset = self._roll_window()
            limit = self._switches["rate_limit_per_minute"]
            allowed = self._used < limit
            if allowed:
                self._used += 1
            return RateWindow(allowed, limit, max(0, limit - self._used), reset)

    def peek_rate(self) -> RateWindow:
        """The current window without spending from it (for answers that are not charged)."""
        with self._lock:
            reset = self._roll_window()
            limit = self._switches["rate_limit_per_minute"]
            return RateWindow(True, limit, max(0, limit - self._used), reset)
