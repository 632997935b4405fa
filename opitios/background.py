"""The one way opitios repeats background work: a daemon thread per job in the web workers, a task in the streamer.

Every job has the same needs: run again after an interval (which the runtime configuration may
change between rounds) and stop promptly when asked. A thread also outlives any surprise in its job
(logged, then the next round) and holds its owner only weakly between rounds, so an app or a storage
that is dropped takes its thread with it; a streamer's task lets a surprise end the connection, whose
loop reconnects.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
import weakref
from collections.abc import Callable
from typing import Any, Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class Repeating(Generic[T]):
    """``work(owner)`` in a daemon thread, ``every(owner)`` seconds after the end of the previous round.

    ``at_once``: the first round runs as the thread starts, not an interval later (a job whose answer
    is wanted from the start, like the market clock).
    """

    def __init__(self, owner: T, name: str, work: Callable[[T], Any], every: Callable[[T], float], at_once: bool = False):
        self._owner = weakref.ref(owner)
        self._at_once = at_once
        self._name = name
        self._work = work
        self._every = every
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0, wake: Callable[[], Any] | None = None) -> None:
        """Ask the thread to end and wait (at most ``timeout`` seconds) until it has, so it lets go of what it uses.

        ``wake`` cuts short a round that waits on something of its own (a queue), once it is told to stop.
        """
        self._stop.set()
        if wake is not None:
            wake()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=timeout)

    def _run(self) -> None:
        wait = not self._at_once
        while True:
            owner = self._owner()
            if owner is None:
                return
            interval = self._every(owner)
            del owner  # not held while waiting
            if wait and self._stop.wait(interval):
                return
            wait = True
            owner = self._owner()
            if owner is None:
                return
            try:
                self._work(owner)
            except Exception:  # the loop must outlive any surprise, or the worker silently stops doing this job
                log.exception("%s: a round failed; the next one runs as usual", self._name)
            del owner


async def repeat(work: Callable[[], Any], every: Callable[[], float]) -> None:
    """``work()`` (awaited if it is a coroutine) now and then ``every()`` seconds after each round, until it returns
    False or the task is cancelled; on the running event loop."""
    while True:
        done = work()
        if inspect.isawaitable(done):
            done = await done
        if done is False:
            return
        await asyncio.sleep(every())
