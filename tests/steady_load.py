"""Steady load from a few client threads while something breaks: every answer recorded, bounded in count and time."""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass

import requests

MAX_SECONDS = 300.0
MAX_REQUESTS = 100_000


@dataclass(frozen=True)
class Answer:
    sent: float  # time.monotonic() when the request went out
    at: float  # ... and when the answer (or the failure) came
    status: int | None  # None: no whole HTTP answer (refused, reset, cut short, timed out)
    error: str = ""  # what went wrong, when something did


class SteadyLoad:
    """``threads`` clients asking ``urls`` in turn, one request at a time each, until stop()."""

    def __init__(self, urls: list[str], threads: int = 4, timeout: float = 30.0):
        self._urls = urls
        self._threads = [threading.Thread(target=self._run, args=(index,), daemon=True) for index in range(threads)]
        self._timeout = timeout
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._count = itertools.count()
        self.answers: list[Answer] = []

    def __enter__(self) -> "SteadyLoad":
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def _run(self, index: int) -> None:
        deadline = time.monotonic() + MAX_SECONDS
        for url in itertools.cycle(self._urls[index % len(self._urls):] + self._urls[: index % len(self._urls)]):
            if self._stop.is_set() or time.monotonic() > deadline or next(self._count) >= MAX_REQUESTS:
                return
            sent, error = time.monotonic(), ""
            try:
                # A connection of its own each time: a kept-alive one that the server closes as the next request
                # goes out fails that request, a failure of the client's making that would be counted against us.
                answer = requests.get(url, timeout=self._timeout)
                status = answer.status_code
                if status >= 500:
                    error = answer.text[:200]
            except requests.RequestException as failure:
                status, error = None, repr(failure)[:200]
            with self._lock:
                self.answers.append(Answer(sent, time.monotonic(), status, error))

    def since(self, moment: float) -> list[Answer]:
        """The answers that came after ``moment`` (requests in flight then included)."""
        with self._lock:
            return [answer for answer in self.answers if answer.at >= moment]

    def count(self) -> int:
        with self._lock:
            return len(self.answers)


def failed(answers: list[Answer]) -> list[Answer]:
    """The answers a client would call a failure: a 5xx, or no answer at all."""
    return [answer for answer in answers if answer.status is None or answer.status >= 500]
