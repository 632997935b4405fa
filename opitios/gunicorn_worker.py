"""The gunicorn worker opitios serves with: gevent's, whose own refusals are the contract's envelope.

gunicorn refuses some requests before the app sees them — a request line or header section over
its limits, a malformed header, a garbage request line — and would answer those with an HTML
page. Clients parse our JSON errors, so this worker answers them with the error envelope instead,
keeping gunicorn's status and its one-line warning (never a traceback: the fault is the client's).

gunicorn's master imports this module to find the worker class, before any worker has let gevent
patch the standard library; so at import it needs gunicorn and gevent only (gunicorn's own gevent
worker imports both), and the app's own modules are imported in the worker, where the app is
already loaded.

The worker also takes turns between connections. gevent switches greenlets only when one waits,
and a keep-alive client that sends its next request before the answer to the last one is out
(pipelining, or a load generator on another core) never makes its greenlet wait: it kept the
worker to itself while other connections' requests queued (make bench's 500 connections saw
requests wait over 2 s and time out). After each request the worker waits for gevent's loop to
be idle: every other connection with a request waiting is served first. (``gevent.sleep(0)`` is
not enough: it only queues the greenlet behind the loop's other callbacks, which run up to 50 at
a time before the loop looks for waiting sockets again.)
"""

from __future__ import annotations

import json
from datetime import datetime
from http import HTTPStatus

import gevent
from gunicorn import util
from gunicorn.http import errors
from gunicorn.http.wsgi import Response, default_environ
from gunicorn.workers.ggevent import GeventWorker

# gunicorn's parse errors → (HTTP status, contract code, message); the first class that matches wins.
# Where the client sent too much, the code is REQUEST_SIZE_EXCEEDED with gunicorn's 414/431; where
# it sent something that is not HTTP/1.1 as RFC 9112 writes it, INVALID_PARAMETER (the request line
# and headers are the request's parameters), or INVALID_REQUEST_BODY for a malformed chunked body.
_REFUSALS: tuple[tuple[type | tuple[type, ...], int, str, str], ...] = (
    (errors.LimitRequestLine, 414, "REQUEST_SIZE_EXCEEDED", "The request line is longer than this service accepts"),
    (errors.LimitRequestHeaders, 431, "REQUEST_SIZE_EXCEEDED", "The request has too many header fields or one too large"),
    ((errors.InvalidChunkSize, errors.ChunkMissingTerminator), 400, "INVALID_REQUEST_BODY",
     "The chunked request body is malformed"),
    (errors.UnsupportedTransferCoding, 501, "INVALID_PARAMETER", "Transfer-Encoding may only be chunked"),
    (errors.ObsoleteFolding, 400, "INVALID_PARAMETER", "A header field is folded onto a second line (obs-fold)"),
    ((errors.InvalidHeader, errors.InvalidHeaderName), 400, "INVALID_PARAMETER",
     "A header field is malformed: an invalid name, a CR, LF or NUL in a value, a repeated or invalid"
     " Content-Length, or Content-Length together with Transfer-Encoding"),
    ((errors.InvalidRequestLine, errors.InvalidRequestMethod, errors.InvalidHTTPVersion), 400, "INVALID_PARAMETER",
     "The request line is not 'METHOD /path HTTP/1.1'"),
    (errors.ParseException, 400, "INVALID_PARAMETER", "The request is not valid HTTP/1.1"),
)
# gunicorn's own exceptions that are not the client's fault: a response header the app made (only
# newer gunicorns have these classes) or a configuration gunicorn cannot serve with. Those are 500s.
_NOT_THE_CLIENTS = tuple(
    getattr(errors, name)
    for name in ("InvalidResponseHeader", "InvalidResponseHeaderName", "ConfigurationProblem")
    if hasattr(errors, name)
)


class EnvelopeWorker(GeventWorker):
    """gunicorn's gevent worker, taking turns between connections; a request gunicorn cannot parse is answered
    with the error envelope."""

    def handle_request(self, listener_name, req, sock, addr):
        keep_alive = super().handle_request(listener_name, req, sock, addr)
        gevent.idle()  # the other connections' turn before this one's next request (see the docstring)
        return keep_alive

    def handle_error(self, req, client, addr, exc):
        started = datetime.now()
        addr = addr or ("", -1)  # a Unix socket has no peer address
        if req is None and isinstance(exc, (errors.InvalidHeader, errors.InvalidHeaderName)):
            req = getattr(exc, "req", None)  # the request, when its headers were all read (a framing conflict)
        refusal = _refusal(exc, self.cfg)
        if refusal is None:
            self.log.exception("Error handling request %s", getattr(req, "uri", "(no URI read)"))
            status, code, message, details = 500, "INTERNAL_SERVICE_ERROR", "The service failed to answer this request", {}
        else:
            self.log.warning("Invalid request from ip=%s: %s", addr[0], exc)
            status, code, message, details = refusal
        request_id, payload = _envelope(req, status, code, message, details)
        reason = HTTPStatus(status).phrase
        if req is not None:
            self._log_access(req, client, addr, started, f"{status} {reason}", request_id, len(payload))
        head = [
            f"HTTP/1.1 {status} {reason}",
            "Connection: close",  # after a refusal, where the next request would start is unknown
            "Content-Type: application/json",
            f"Content-Length: {len(payload)}",
            f"X-Error-Code: {code}",
            f"X-Request-ID: {request_id}",
            "Cache-Control: no-store",
            *(f"{name}: {value}" for name, value in _security_headers().items()),
        ]
        try:
            util.write_nonblock(client, ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + payload)
        except Exception:  # the client has gone: nobody is left to tell
            self.log.debug("Failed to send error message.")

    def _log_access(self, req, client, addr, started, status, request_id, length) -> None:
        environ = default_environ(req, client, self.cfg)
        environ["REMOTE_ADDR"] = addr[0]
        environ["REMOTE_PORT"] = str(addr[1])
        response = Response(req, client, self.cfg)
        response.status = status
        response.headers.append(("X-Request-ID", request_id))
        response.response_length = length
        self.log.access(response, req, environ, datetime.now() - started)


def _refusal(exc: BaseException, cfg) -> tuple[int, str, str, dict] | None:
    """Status, code, message and details for a request gunicorn refused; None when the fault is ours."""
    if isinstance(exc, _NOT_THE_CLIENTS):
        return None
    for kinds, status, code, message in _REFUSALS:
        if isinstance(exc, kinds):
            return status, code, message, _limits(exc, cfg)
    return None


def _limits(exc: BaseException, cfg) -> dict:
    """The limit a request broke, so a client can tell how far to shorten it."""
    if isinstance(exc, errors.LimitRequestLine):
        return {"limit_bytes": cfg.limit_request_line}
    if isinstance(exc, errors.LimitRequestHeaders):
        return {"max_fields": cfg.limit_request_fields, "max_field_bytes": cfg.limit_request_field_size}
    return {}


def _envelope(req, status: int, code: str, message: str, details: dict) -> tuple[str, bytes]:
    """The request id and the JSON body; the request's id and path when its headers were read."""
    # Imported in the worker, not at the top: gunicorn's master imports this module (see the docstring).
    from opitios.envelope import error_body
    from opitios.errors import ApiError
    from opitios.request_id import chosen_request_id

    offered = next((value for name, value in req.headers if name == "X-REQUEST-ID"), "") if req is not None else ""
    request_id = chosen_request_id(offered)
    endpoint = req.path if req is not None else None
    body = error_body(ApiError(code, message, details=details, status=status), request_id, endpoint)
    return request_id, json.dumps(body, separators=(",", ":")).encode()


def _security_headers() -> dict[str, str]:
    # In the worker only, like _envelope's imports.
    from opitios.access.hygiene import SECURITY_HEADERS

    return SECURITY_HEADERS
