"""The market state (open, closed, unknown) from the upstream clock, kept by a background thread.

No request asks the upstream clock or waits for it: requests read the state
held here. A daemon thread asks the upstream when the state runs out (at its
next open/close boundary), and never more than once a minute whatever the
answer, so a clock that answers boundaries already past, fails or hangs costs
at most one upstream call a minute (an ask that opitios' own budget or circuit
refuses makes no call, and is tried again as soon as it may succeed). Before
the first answer, and from a
boundary until the next answer, the state is ``unknown``, which caches with
the shorter (open-market) TTLs.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from opitios.background import Repeating
from opitios.upstream.breaker import CircuitOpen
from opitios.upstream.budget import BudgetSpent
from providers.base import MarketClock as ClockReading
from providers.base import ProviderError

log = logging.getLogger(__name__)

MIN_INTERVAL = timedelta(seconds=60)
TICK_SECONDS = 0.5  # how often the thread looks whether an ask is due (a comparison, no call)
_LONG_AGO = datetime.min.replace(tzinfo=timezone.utc)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class MarketClock:
    """One worker's view of the upstream clock: read by requests, refreshed in the background."""

    def __init__(self, read: Callable[[], ClockReading], now: Callable[[], datetime] = utc_now):
        self._read = read
        self.now = now  # the time source; tests move one by hand
        # (status, valid until) as one value, so a reader never pairs a new status with an old bound.
        self._reading: tuple[str, datetime] = ("unknown", _LONG_AGO)
        self._next_ask = _LONG_AGO
        self._asking = threading.Lock()
        self.first_ask_done = threading.Event()  # set once the first ask has ended, answered or not
        # Held weakly between rounds: services that are replaced take their clock thread with them.
        self._rounds = Repeating(self, "opitios-market-clock", MarketClock.run_once, lambda clock: TICK_SECONDS, at_once=True)

    def status(self) -> str:
        """``open``, ``closed`` or ``unknown``; never waits."""
        status, valid_until = self._reading
        return status if self.now() < valid_until else "unknown"

    def run_once(self) -> bool:
        """Ask the upstream if an ask is due (what the thread does every tick); whether it asked."""
        if self.now() < self._next_ask or not self._asking.acquire(blocking=False):
            return False
        try:
            asked_at = self.now()
            if asked_at < self._next_ask:  # another thread asked while this one looked
                return False
            # Set before asking, so a failure or a hang also waits its minute.
            self._next_ask = asked_at + MIN_INTERVAL
            self._ask()
            return True
        finally:
            self._asking.release()
            self.first_ask_done.set()

    def _ask(self) -> None:
        try:
            clock = self._read()
        except (BudgetSpent, CircuitOpen) as refusal:
            # Refused by opitios itself: no upstream call was made, so there is no minute to wait out;
            # trying again when a token (or the probe) may be there keeps a busy budget from starving the clock.
            self._next_ask = self.now() + timedelta(seconds=max(1, refusal.retry_after or 1))
            log.debug("market clock not asked: %s", refusal.message)
            return
        except ProviderError as error:
            log.warning("market clock unavailable (%s); market_status stays unknown, asking again in a minute", error.message)
            return
        boundary = clock["next_close"] if clock["is_open"] else clock["next_open"]
        # A boundary already past (a clock answering late) keeps the answer until the next ask.
        self._next_ask = max(boundary, self._next_ask)
        self._reading = ("open" if clock["is_open"] else "closed", self._next_ask)

    def start(self) -> None:
        """Ask now, then whenever due, in a daemon thread."""
        self._rounds.start()

    def stop(self) -> None:
        self._rounds.stop()
