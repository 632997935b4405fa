"""The stream's switches and counters, shared by the websocket connections and the control API (thread-safe)."""
import threading
from collections import Counter

# Channels a subscription message may name, in the order Alpaca lists them in its confirmations.
CHANNELS = ("trades", "quotes", "bars", "updatedBars", "dailyBars", "statuses", "lulds", "corrections", "cancelErrors")
# The channels the sandbox has data for, and the message type each one carries.
DATA_CHANNELS = {"quotes": "q", "trades": "t", "dailyBars": "d"}
# Alpaca's free plan caps trades and quotes at 30 symbols each per connection; bar channels are not capped.
LIMITED = ("trades", "quotes")

DEFAULT_SWITCHES = {
    "interval_ms": 250,  # every subscribed symbol's q/t/d go out this often
    "symbol_limit": 30,  # per capped channel; beyond it a subscribe is refused with 405
    "auth_timeout_ms": 10_000,  # Alpaca's 10 s to authenticate, then 404
    "down": False,  # open connections are dropped and handshakes refused (HTTP 503) while true
    "stall": False,  # connections stay open and answer control messages, but no data flows
    "delay_ms": 0,  # data goes out this long after its timestamp (a slow stream)
    "mute": [],  # data channels whose messages are not sent, e.g. ["trades", "dailyBars"]
}


class StreamSwitchError(ValueError):
    """A stream switch change the control API refuses with 400."""


def _whole(low: int, high: int):
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and low <= v <= high


_VALID = {
    "interval_ms": _whole(10, 60_000),
    "symbol_limit": _whole(1, 100_000),
    "auth_timeout_ms": _whole(10, 600_000),
    "down": lambda v: isinstance(v, bool),
    "stall": lambda v: isinstance(v, bool),
    "delay_ms": _whole(0, 600_000),
    "mute": lambda v: isinstance(v, list) and all(channel in DATA_CHANNELS for channel in v),
}


class StreamState:
    """Switches, counters and the authenticated connections per key (for the one-connection limit)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._live_by_key: Counter = Counter()  # authenticated connections now open, by API key
        self._open = 0
        self._subscriptions: dict[int, dict[str, list[str]]] = {}  # per open connection
        self.reset()

    def reset(self) -> None:
        """Switches and counters back to the start; open connections stay open and counted."""
        with self._lock:
            self._switches = {name: (list(value) if isinstance(value, list) else value)
                              for name, value in DEFAULT_SWITCHES.items()}
            self._counters = Counter()
            self._errors = Counter()
            self._messages = Counter()

    def switches(self) -> dict:
        with self._lock:
            return {name: (list(value) if isinstance(value, list) else value) for name, value in self._switches.items()}

    def update(self, changes: dict) -> dict:
        """Merge ``changes`` all or nothing."""
        for name, value in changes.items():
            if name not in _VALID:
                raise StreamSwitchError(f"unknown stream switch: {name}")
            if not _VALID[name](value):
                raise StreamSwitchError(f"invalid value for stream switch {name}: {value!r}")
        with self._lock:
            self._switches.update(changes)
        return self.switches()

    # --- connections ---------------------------------------------------------------------------

    def opened(self, connection: int) -> None:
        with self._lock:
            self._open += 1
            self._counters["handshakes"] += 1
            self._subscriptions[connection] = {}

    def closed(self, connection: int, key: str | None) -> None:
        with self._lock:
            self._open -= 1
            self._subscriptions.pop(connection, None)
            if key is not None:
                self._live_by_key[key] -= 1

    def refused(self, reason: str) -> None:
        with self._lock:
            self._counters[f"refused_{reason}"] += 1

    def authenticate(self, key: str) -> bool:
        """Count an authenticated connection for ``key``; False (error 406) when it already has one."""
        with self._lock:
            if self._live_by_key[key] >= 1:
                return False
            self._live_by_key[key] += 1
            return True

    def subscribed(self, connection: int, subscriptions: dict[str, list[str]]) -> None:
        with self._lock:
            self._subscriptions[connection] = {channel: list(symbols) for channel, symbols in subscriptions.items()}

    # --- counters ------------------------------------------------------------------------------

    def error(self, code: int) -> None:
        with self._lock:
            self._errors[str(code)] += 1

    def count(self, what: str, amount: int = 1) -> None:
        with self._lock:
            self._counters[what] += amount

    def sent(self, types: Counter) -> None:
        with self._lock:
            self._messages.update(types)
            self._counters["frames"] += 1

    def stats(self) -> dict:
        with self._lock:
            union: dict[str, set] = {}
            for subscriptions in self._subscriptions.values():
                for channel, symbols in subscriptions.items():
                    union.setdefault(channel, set()).update(symbols)
            return {
                "open": self._open,
                "authenticated": sum(self._live_by_key.values()),
                "handshakes": self._counters["handshakes"],
                "refused_down": self._counters["refused_down"],
                "frames": self._counters["frames"],
                "stalled_ticks": self._counters["stalled_ticks"],
                "drops": self._counters["drops"],
                "errors": dict(self._errors),
                "messages": dict(self._messages),
                "subscriptions": {channel: sorted(symbols) for channel, symbols in union.items()},
            }
