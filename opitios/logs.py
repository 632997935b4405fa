"""Logging: one JSON object per line (python-json-logger), or readable lines on a terminal.

Every record carries the request id when there is a request; each answered
request adds one ``opitios.access`` record with method, endpoint (the URL
rule), path, status, duration, cache status, upstream calls made and the
client's key prefix. Nothing here logs a header or a body, and every line is
redacted as a whole once formatted (opitios/redaction.py), so a key a client
put in a path, or echoed by any message, never reaches the log either.
"""

from __future__ import annotations

import logging
import sys
import time

from flask import Flask, Response, g, has_request_context, request
from pythonjsonlogger.json import JsonFormatter

from opitios.redaction import redactor
from opitios.upstream.gate import CALLS_THIS_REQUEST

FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s"
access_log = logging.getLogger("opitios.access")


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = g.get("request_id") if has_request_context() else None
        return True


class RedactedFormatter(logging.Formatter):
    """Formats with ``inner``, then redacts the whole line: message, extra fields and traceback alike."""

    def __init__(self, inner: logging.Formatter):
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        return redactor.text(self.inner.format(record))


def json_formatter() -> logging.Formatter:
    return JsonFormatter(FIELDS, rename_fields={"asctime": "timestamp", "levelname": "level", "name": "logger"},
                         timestamp=False)


def configure(level: str) -> None:
    """Log to stderr in JSON (readable when stderr is a terminal); once per process."""
    root = logging.getLogger()
    root.setLevel(level)
    if any(getattr(handler, "opitios", False) for handler in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.opitios = True
    handler.addFilter(RequestIdFilter())
    readable = sys.stderr.isatty()
    formatter = logging.Formatter(FIELDS + " [%(request_id)s]") if readable else json_formatter()
    handler.setFormatter(RedactedFormatter(formatter))
    root.addHandler(handler)


def _start() -> None:
    g.started = time.perf_counter()
    CALLS_THIS_REQUEST.set(0)


def _access(response: Response) -> Response:
    started = g.get("started")
    client = g.get("client")
    access_log.info(
        "request",
        extra={
            "method": request.method,
            "endpoint": request.url_rule.rule if request.url_rule else None,
            "path": request.path,
            "status": response.status_code,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2) if started else None,
            "cache": response.headers.get("X-Cache-Status"),
            "upstream_calls": CALLS_THIS_REQUEST.get(),
            "client": client.prefix if client is not None else None,
        },
    )
    return response


def init_app(app: Flask) -> None:
    app.before_request(_start)
    app.after_request(_access)
