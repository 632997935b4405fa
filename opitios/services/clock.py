"""The market state (open, closed, unknown) from the upstream clock, kept until its next boundary."""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta, timezone

from collections.abc import Callable

from providers.base import MarketClock as ClockReading
from providers.base import ProviderError

log = logging.getLogger(__name__)

# After a failed clock fetch, wait this long before asking again, so a broken
# upstream is not asked for the clock on every request.
RETRY_AFTER_FAILURE = timedelta(seconds=30)


class MarketClock:
    """Per-process memory of the upstream clock: one upstream call per open/close boundary."""

    def __init__(self, read: Callable[[], ClockReading]):
        self._read = read
        self._lock = threading.Lock()
        self._status = "unknown"
        self._valid_until = datetime.min.replace(tzinfo=timezone.utc)

    def status(self) -> str:
        """``open``, ``closed`` or ``unknown`` (when the upstream clock cannot be read)."""
        now = datetime.now(timezone.utc)
        if now < self._valid_until:
            return self._status
        with self._lock:
            if now < self._valid_until:  # another thread refreshed it while we waited
                return self._status
            self._refresh(now)
            return self._status

    def _refresh(self, now: datetime) -> None:
        try:
            clock = self._read()
        except ProviderError as error:
            log.warning("market clock unavailable: %s", error.message)
            self._status, self._valid_until = "unknown", now + RETRY_AFTER_FAILURE
            return
        boundary = clock["next_close"] if clock["is_open"] else clock["next_open"]
        self._status = "open" if clock["is_open"] else "closed"
        # A boundary already past (a clock answering late) must not pin the state.
        self._valid_until = max(boundary, now + timedelta(seconds=1))
