"""Logging: one JSON object per line (python-json-logger), or readable lines on a terminal.

Every record carries the request id when there is a request. Each request gets exactly one
access line, written by gunicorn (gunicorn.conf.py's JsonAccessLogger) once the answer is sent:
gunicorn knows the status, the bytes sent and the whole duration, and also sees the requests it
refuses itself. The app adds what only it knows (the URL rule, the upstream calls made, the
client's key prefix) to the request's WSGI environ under ``ACCESS_FIELDS``, where that logger
reads them: a second line per request would cost as much again. Nothing here logs a header or a
body, and every line is redacted as a whole once formatted (opitios/redaction.py), so a key a
client put in a path, or echoed by any message, never reaches the log either.
"""

from __future__ import annotations

import logging
import sys

from flask import Flask, Response, g, has_request_context, request
from pythonjsonlogger.json import JsonFormatter

from opitios.redaction import redactor
from opitios.request_id import current_request_id
from opitios.upstream.gate import CALLS_THIS_REQUEST

FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s"
# The WSGI environ key gunicorn.conf.py's JsonAccessLogger reads the app's access fields from (it
# cannot import this module: gunicorn's master reads that file before any worker loads the app).
ACCESS_FIELDS = "opitios.access"


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id() if has_request_context() else None
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
    CALLS_THIS_REQUEST.set(0)


def _access_fields(response: Response) -> Response:
    """What the access line needs from the app; gunicorn writes the line after sending the answer."""
    client = g.get("client")
    served = request._get_current_object()  # one look through the context for the three reads below
    rule = served.url_rule
    served.environ[ACCESS_FIELDS] = {
        "request_id": served.id,
        "endpoint": rule.rule if rule is not None else None,
        "cache": response.headers.get("X-Cache-Status"),
        "upstream_calls": CALLS_THIS_REQUEST.get(),
        "client": client.prefix if client is not None else None,
    }
    return response


def url_rule(environ: dict) -> str | None:
    """The URL rule the app served a request by, once it has answered; None when no route matched."""
    return (environ.get(ACCESS_FIELDS) or {}).get("endpoint")


def init_app(app: Flask) -> None:
    app.before_request(_start)
    app.after_request(_access_fields)
