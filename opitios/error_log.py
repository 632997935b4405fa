"""error_logs rows, written off the request path by a bounded queue and a background writer.

A slow or absent database never delays or fails a response: when the queue is
full or a write fails, rows are dropped, counted and logged (at most once per
``LOG_EVERY`` seconds), and writing resumes by itself when the database does.
A row keeps only the query parameters its route declares, and every string in
it is redacted (opitios/redaction.py) before it is queued.
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Collection, Mapping
from typing import Any

from sqlalchemy import Engine, insert
from sqlalchemy.exc import SQLAlchemyError

from opitios import metrics
from opitios.background import Repeating
from opitios.models import ErrorLog
from opitios.redaction import redactor

log = logging.getLogger(__name__)

QUEUE_SIZE = 1000
BATCH = 100
TAKE_SECONDS = 0.5  # how long the writer waits for a first row before looking whether it should stop
LOG_EVERY = 30.0
MESSAGE_CHARS = 2000
VALUE_CHARS = 256


def declared_query(names: Collection[str], params: Mapping[str, str]) -> dict[str, str]:
    """The query parameters among ``names`` (what the route's arguments declare); whatever else a client sent is left out."""
    return {name: value[:VALUE_CHARS] for name, value in params.items() if name in names}


_WAKE = object()  # put by stop(): wakes the writer at once


class ErrorLogWriter:
    """Takes rows without blocking; a daemon thread writes them in batches."""

    def __init__(self, engine: Engine, maxsize: int = QUEUE_SIZE):
        self._engine = engine
        self._queue: queue.Queue[dict[str, Any]] = queue.Queue(maxsize=maxsize)
        self.written = 0
        self.dropped = 0
        self._last_warning = 0.0
        # No pause between rounds: each one waits on the queue itself (stop() wakes it).
        self._rounds = Repeating(self, "opitios-error-log", ErrorLogWriter.write_queued, lambda _: 0)

    def record(
        self, *, request_id: str, code: str, status: int, message: str, endpoint: str, method: str, context: dict
    ) -> None:
        row = {
            "request_id": request_id,
            "error_code": code,
            "http_status": status,
            "message": redactor.text(message)[:MESSAGE_CHARS],
            "endpoint": redactor.text(endpoint)[:512],
            "method": method[:16],
            "context": redactor.value(context),
        }
        try:
            self._queue.put_nowait(row)
        except queue.Full:
            self._drop(1, "the queue is full")

    def status(self) -> dict[str, int]:
        return {"written": self.written, "dropped": self.dropped, "queued": self._queue.qsize()}

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every queued row has been written or dropped (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self._queue.unfinished_tasks

    def start(self) -> None:
        self._rounds.start()

    def stop(self) -> None:
        """Stop the thread and wait (briefly) until it has let go of the database."""
        self._rounds.stop(wake=self._wake)

    def _wake(self) -> None:
        try:
            self._queue.put_nowait(_WAKE)  # so the writer need not wait out its poll
        except queue.Full:
            pass  # a full queue means the writer is busy and sees the stop soon anyway

    def write_queued(self) -> None:
        """One round of the writer: the rows queued now (waiting up to TAKE_SECONDS for the first), in one insert."""
        rows = self._take(wait=TAKE_SECONDS)
        if rows:
            self._write(rows)

    def _take(self, wait: float) -> list[dict[str, Any]]:
        try:
            first = self._queue.get(timeout=wait)
        except queue.Empty:
            return []
        if first is _WAKE:
            self._queue.task_done()
            return []
        rows = [first]
        while len(rows) < BATCH:
            try:
                row = self._queue.get_nowait()
            except queue.Empty:
                break
            if row is _WAKE:
                self._queue.task_done()
                break
            rows.append(row)
        return rows

    def _write(self, rows: list[dict[str, Any]]) -> None:
        try:
            with self._engine.begin() as connection:
                connection.execute(insert(ErrorLog), rows)
            self.written += len(rows)
            metrics.ERROR_LOG_ROWS.labels(result="written").inc(len(rows))
        except SQLAlchemyError as error:
            self._drop(len(rows), f"the database failed ({error.__class__.__name__})")
        finally:
            for _ in rows:
                self._queue.task_done()

    def _drop(self, count: int, why: str) -> None:
        self.dropped += count
        metrics.ERROR_LOG_ROWS.labels(result="dropped").inc(count)
        now = time.monotonic()
        if now - self._last_warning >= LOG_EVERY:
            self._last_warning = now
            log.warning("error_logs: dropped %d row(s) because %s (%d dropped so far)", count, why, self.dropped)
