"""``opitios stream``: hold the lease, keep the one connection, follow interest, write what the stream says.

Everything runs on one asyncio loop. Redis calls are synchronous: well under a millisecond on a
healthy Redis, half a second at most on a dead one, after which the lease cannot be renewed and
the connection is closed. That keeps the order of events simple: an update is in the book before
the next flush looks at it.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import random
import signal
import socket
import time
import uuid
from collections import Counter
from datetime import datetime, timezone

import redis
from flask import Flask

from opitios import extensions
from opitios.background import repeat
from opitios.data_classes import STOCK_QUOTE
from opitios.stream.board import StreamBoard
from opitios.stream.book import QuoteBook
from opitios.stream.interest import Interest, follow
from opitios.stream.lease import Lease
from providers.base import (
    ProviderError,
    StreamConnectionLimit,
    StreamNotice,
    StreamRefused,
    StreamSubscription,
    StreamUnavailable,
    StreamUpdate,
)

log = logging.getLogger(__name__)

FLUSH_SECONDS = 0.05  # what the stream says reaches the cache within this
FOLLOW_SECONDS = 0.5  # how often the subscription is matched to clients' interest
REPORT_SECONDS = 0.5  # how often the state and counters go to Redis
REPORT_KEEP_SECONDS = 3.0  # a holder that stops reporting disappears from readiness this soon
BACKOFF = (0.5, 15.0)  # first and longest wait before reconnecting after a drop or a failed attempt
REFUSED_BACKOFF = (5.0, 60.0)  # after a 406: another connection holds the account's one stream
TIMED_PARTS = ("quote", "trade")  # parts whose timestamp says when the datum happened (a daily bar's is its day)


def _epoch(timestamp: str | None) -> float | None:
    try:
        return datetime.fromisoformat(timestamp).timestamp() if timestamp else None
    except ValueError:
        return None


def _backoff(failures: int, bounds: tuple[float, float]) -> float:
    first, longest = bounds
    return min(longest, first * 2 ** max(0, failures - 1)) * random.uniform(0.75, 1.0)


class Streamer:
    """One ``opitios stream`` process: a standby, or the deployment's one connected streamer."""

    def __init__(self, app: Flask, ident: str):
        parts = extensions.of(app)
        shared = parts.redis
        self._provider = parts.services.provider
        self._shared = shared
        self._store = parts.protection.store
        self._config = parts.runtime
        self.ident = ident
        self.feed = self._provider.feeds()["stock"]
        self.lease = Lease(shared.client, shared.key(f"stream:{self.feed}:lease"), ident)
        self.board = StreamBoard(shared, self.feed)
        self.interest = Interest(shared)
        self.book = QuoteBook()
        self._counts: Counter = Counter()  # not yet added to the board's counters
        self._reset_connection()
        self.state = "standby"
        self.last_error: str | None = None
        self.retry_at: float | None = None
        self._stop = asyncio.Event()
        self._lost = asyncio.Event()

    def _reset_connection(self) -> None:
        self.connected = False
        self.requested: set[str] = set()  # what we asked the upstream to stream
        self.subscribed: frozenset[str] = frozenset()  # what it confirmed
        self.newest: float | None = None  # when the newest quote or trade we heard happened (Unix seconds)
        self.transit = 0.0  # how late the last quote or trade arrived after it happened
        self.cap_from_upstream: int | None = None  # lowered when the upstream says 405 (symbol limit)
        self.book.clear()

    def _setting(self, section: str, name: str):
        return self._config.section(section)[name]

    def lag(self, now: float) -> float | None:
        """How far behind the upstream the stream is: its last datum arrived late, or nothing new came since."""
        return None if self.newest is None else max(0.0, self.transit, now - self.newest)

    def healthy(self, now: float) -> bool:
        """Connected, and the newest datum is within ``max_lag_seconds``: only then is anything vouched for."""
        lag = self.lag(now)
        return self.connected and lag is not None and lag <= self._setting("stream", "max_lag_seconds")

    # --- the process ---------------------------------------------------------------------------

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self._stop.set)
        log.info("stream %s: waiting for the lease on the %s stream", self.ident, self.feed)
        try:
            while not self._stop.is_set():
                lease_seconds = self._setting("stream", "lease_seconds")
                if self.lease.acquire(lease_seconds):
                    log.warning("stream %s: holds the lease; connecting", self.ident)
                    self._counts["lease_changes"] += 1
                    await self._hold()
                    continue
                self.state = "standby"
                await self._wait(min(1.0, lease_seconds / 3), self._stop)
        finally:
            if self.lease.held():
                self._report()
                self._clear_report()
                self.lease.release()
                log.warning("stream %s: stopped and gave the lease back", self.ident)

    async def _wait(self, seconds: float, *events: asyncio.Event) -> bool:
        """Sleep ``seconds``, or less when one of ``events`` is set; whether one was."""
        waiters = [asyncio.ensure_future(event.wait()) for event in events]
        try:
            done, _ = await asyncio.wait(waiters, timeout=seconds)
            return bool(done)
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def _hold(self) -> None:
        """While the lease is ours: connect, stream, and reconnect with backoff; return when it is lost or on stop."""
        self._lost = asyncio.Event()
        keeper = asyncio.create_task(repeat(self._renew_lease, lambda: self._setting("stream", "lease_seconds") / 3))
        reporter = asyncio.create_task(repeat(self._report, lambda: REPORT_SECONDS))
        failures = refusals = 0
        try:
            while self.lease.held() and not self._stop.is_set():
                if failures or refusals:
                    self._counts["reconnects"] += 1
                self.state, self.retry_at = "connecting", None
                try:
                    async with self._provider.quote_stream() as stream:
                        self.connected, self.state, self.last_error = True, "streaming", None
                        log.warning("stream %s: connected to %s", self.ident, getattr(stream, "url", "the stream"))
                        await self._stream(stream)
                    if self.newest is not None:
                        failures = refusals = 0  # it streamed: the next drop starts the backoff over
                    delay = _backoff(failures + 1, BACKOFF)
                except StreamConnectionLimit as error:
                    refusals += 1
                    delay = _backoff(refusals, REFUSED_BACKOFF)
                    self._refused(error, delay)
                except StreamUnavailable as error:
                    if self.newest is not None:
                        failures = refusals = 0
                    failures += 1
                    delay = _backoff(failures, BACKOFF)
                    self._refused(error, delay)
                except Exception:  # a surprise must not end the deployment's one stream: log it, back off, retry
                    failures += 1
                    delay = _backoff(failures, BACKOFF)
                    self.last_error = "internal error (see the log)"
                    log.exception("stream %s: failed; trying again in %.1f s", self.ident, delay)
                finally:
                    self._reset_connection()
                if self._stop.is_set() or not self.lease.held():
                    break
                self.state, self.retry_at = "backing_off", time.time() + delay
                if await self._wait(delay, self._stop, self._lost):
                    break
        finally:
            keeper.cancel()
            reporter.cancel()
            await asyncio.gather(keeper, reporter, return_exceptions=True)
            self._reset_connection()
            if not self.lease.held():
                log.error("stream %s: lost the lease; the connection is closed", self.ident)

    def _refused(self, error: StreamUnavailable, delay: float) -> None:
        if isinstance(error, StreamRefused):
            self._counts[f"errors:{error.code}"] += 1
        self.last_error = str(error)
        log.warning("stream %s: %s; trying again in %.1f s", self.ident, error, delay)

    def _renew_lease(self) -> bool:
        """Renew the lease (well before it lapses); False, and the connection told to close, once it is lost."""
        if self.lease.renew(self._setting("stream", "lease_seconds")):
            return True
        self._lost.set()
        return False

    async def _stream(self, stream) -> None:
        """Receive, follow interest and flush until the connection ends, the lease is lost or we stop."""
        tasks = [
            asyncio.create_task(self._receive(stream)),
            asyncio.create_task(repeat(lambda: self._follow(stream), lambda: FOLLOW_SECONDS)),
            asyncio.create_task(repeat(lambda: self.flush(time.time()), lambda: FLUSH_SECONDS)),
            asyncio.create_task(self._lost.wait()),
            asyncio.create_task(self._stop.wait()),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()

    # --- what the stream says ----------------------------------------------------------------------

    async def _receive(self, stream) -> None:
        async for event in stream.events():
            if isinstance(event, StreamUpdate):
                self._counts[f"messages:{event.part}"] += 1
                if self.book.heard(event) and event.part in TIMED_PARTS:
                    happened = _epoch(event.timestamp)
                    if happened is not None:
                        # A frame is taken whole before a flush can run: a late one never reaches the cache.
                        self.transit = time.time() - happened
                        self.newest = happened if self.newest is None else max(self.newest, happened)
            elif isinstance(event, StreamSubscription):
                self.subscribed = event.symbols
            elif isinstance(event, StreamNotice):
                self._notice(event)

    def _notice(self, notice: StreamNotice) -> None:
        self._counts[f"errors:{notice.code}"] += 1
        if notice.code == 405:  # more symbols than the account may stream: keep to what it confirmed
            self.cap_from_upstream = max(1, len(self.subscribed))
            self.requested = set(self.subscribed)  # the refused subscribe changed nothing upstream
            self.book.follow(self.requested)
            log.error("stream %s: the upstream allows %d symbols; set stream.max_symbols to it",
                      self.ident, self.cap_from_upstream)
        else:
            log.warning("stream %s: the upstream said: %s (%s)", self.ident, notice.message, notice.code)

    async def _follow(self, stream) -> None:
        """Subscribe to what clients asked for within the refresh-ahead window, up to the cap, on this connection."""
        cap = self._setting("stream", "max_symbols")
        if self.cap_from_upstream is not None:
            cap = min(cap, self.cap_from_upstream)
        window = self._setting("cache_ttl", "refresh_ahead_window")
        try:
            recent = self.interest.recent(STOCK_QUOTE.name, window) if window > 0 else {}
        except redis.RedisError:
            return  # keep the subscription as it is until Redis answers
        wanted = follow(recent, self.requested, cap)
        gone, new = sorted(self.requested - wanted), sorted(wanted - self.requested)
        await stream.unsubscribe(gone)  # first, so the upstream's cap is never exceeded
        await stream.subscribe(new)
        self.requested = wanted
        self.book.follow(wanted)
        if gone or new:
            log.info("stream %s: now streaming %d symbols (+%d, -%d)", self.ident, len(wanted), len(new), len(gone))

    def flush(self, now: float) -> int:
        """Write the entries the stream vouches for now into the shared cache; how many were written."""
        if not (self.healthy(now) and self.lease.held() and self._shared.state == "ok"):
            return 0  # nothing vouched for: what was written lapses within max_lag_seconds and REST takes over
        vouch = self._setting("stream", "max_lag_seconds")
        due = self.book.due(now, every=vouch / 4)
        if not due:
            return 0
        keys = {STOCK_QUOTE.key(symbol, self.feed): symbol for symbol in due}
        seeds = [key for key, symbol in keys.items() if self.book.needs_rest(symbol)]
        for key, entry in self._store.get_many(seeds, use_l1=False).items():
            self.book.seed(keys[key], entry)
        entries = {key: entry for key, symbol in keys.items() if (entry := self.book.entry(symbol, now, vouch))}
        self.book.looked_at(due, now)
        keep_for = math.ceil(vouch) + self._setting("limits", "stale_if_error_seconds")
        self._store.set_many(entries, keep_for=keep_for)
        return len(entries)

    # --- what readiness and /metrics see -------------------------------------------------------------

    def _report(self) -> None:
        now = time.time()
        lag = self.lag(now)
        healthy = self.healthy(now)
        state = self.state
        if state == "streaming" and not healthy:
            state = "lagging" if lag is not None else "subscribing"
        report = {
            "state": state,
            "holder": self.ident,
            "connected": self.connected,
            "healthy": healthy,
            "subscribed": len(self.subscribed),
            "symbols": sorted(self.subscribed),
            "lag_seconds": None if lag is None else round(lag, 3),
            "max_lag_seconds": self._setting("stream", "max_lag_seconds"),
            "max_symbols": self._setting("stream", "max_symbols"),
            "last_error": self.last_error,
            "retry_in_seconds": None if self.retry_at is None else round(max(0.0, self.retry_at - now), 1),
            "reported_at": datetime.fromtimestamp(now, timezone.utc).isoformat(timespec="milliseconds"),
        }
        counts, self._counts = self._counts, Counter()
        try:
            self.board.count(counts)
            self.board.publish(report, keep_seconds=REPORT_KEEP_SECONDS)
        except redis.RedisError:
            self._counts.update(counts)  # added next time

    def _clear_report(self) -> None:
        try:
            self.board.clear()
        except redis.RedisError:
            pass  # it expires by itself


def serve(app: Flask) -> None:
    """Run a streamer until SIGTERM or SIGINT; it needs Redis (the lease and the shared cache) and a streaming provider."""
    if extensions.of(app).redis is None:
        raise RuntimeError("opitios stream needs REDIS_URL: the lease and the cache it writes are shared through Redis")
    provider = extensions.of(app).services.provider
    if not hasattr(provider, "quote_stream"):
        raise RuntimeError(f"the provider {provider.name!r} offers no market-data stream")
    try:
        provider.quote_stream()  # fails now, clearly, without credentials
    except ProviderError as error:
        raise RuntimeError(error.message) from None
    ident = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
    asyncio.run(Streamer(app, ident).run())
