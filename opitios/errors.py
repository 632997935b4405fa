"""The handlers that turn every failure into the contract's error envelope (CONTRACT §5).

The vocabulary itself (codes, ``ApiError``) is plain Python in ``opitios.api_errors``, so services and
schemas raise it without knowing HTTP; this module maps it, provider errors and Werkzeug's HTTP
exceptions onto responses.
"""

from __future__ import annotations

import json
import logging

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from opitios import endpoints, extensions, metrics
from opitios.api_errors import ERRORS, ApiError  # noqa: F401  (ERRORS: the HTTP layer reads the vocabulary here)
from opitios.envelope import error_response
from opitios.error_log import declared_query
from opitios.request_id import current_request_id
from providers.base import ProviderError

log = logging.getLogger(__name__)

# Seconds a client should wait when the cause names no better figure.
DEFAULT_RETRY_AFTER = {429: 60, 503: 30}

_HTTP_CODES = {
    400: "INVALID_REQUEST_BODY",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "REQUEST_SIZE_EXCEEDED",
}


def challenge(code: str) -> str:
    """RFC 9110 11.6.1: a 401 names the schemes that would work; Bearer (RFC 6750) first, then our header."""
    bearer = 'Bearer realm="opitios"' + (', error="invalid_token"' if code == "INVALID_API_KEY" else "")
    return f'{bearer}, ApiKey realm="opitios", header="X-API-Key"'


def render(error: ApiError, headers: dict | None = None) -> Response:
    _remember(error)
    headers = dict(headers or {})
    if error.status == 401:
        headers.setdefault("WWW-Authenticate", challenge(error.code))
    retry_after = error.retry_after or DEFAULT_RETRY_AFTER.get(error.status)
    if retry_after:
        headers["Retry-After"] = str(retry_after)
    return error_response(error, headers)


AUTH_CODES = {"AUTHENTICATION_REQUIRED", "INVALID_API_KEY", "INSUFFICIENT_PERMISSIONS"}


def _remember(error: ApiError) -> None:
    """Count it, and queue an error_logs row; neither may fail the answer."""
    if error.code in AUTH_CODES:
        metrics.AUTH_FAILURES.labels(code=error.code).inc()
    elif error.code == "RATE_LIMIT_EXCEEDED":
        metrics.RATE_LIMITED.inc()
    writer = extensions.current().error_log
    declared = endpoints.current()
    names = declared.query_names if declared is not None else frozenset()
    context = {"query": declared_query(names, request.args.to_dict()), "details": error.details}
    writer.record(
        request_id=current_request_id(),
        code=error.code,
        status=error.status,
        message=error.message,
        endpoint=request.path,
        method=request.method,
        context=json.loads(json.dumps(context, default=str)),
    )


def _from_provider(error: ProviderError) -> Response:
    return render(ApiError(error.code, error.message, details=error.details, retry_after=error.retry_after))


def _from_http(error: HTTPException) -> Response:
    status = error.code or 500
    code = _HTTP_CODES.get(status, "INVALID_REQUEST_BODY" if status < 500 else "INTERNAL_SERVICE_ERROR")
    headers = {}
    if status == 405 and getattr(error, "valid_methods", None):
        headers["Allow"] = ", ".join(sorted(error.valid_methods))
    messages = {
        404: f"No route for {request.path}",
        405: f"{request.method} is not allowed on {request.path}",
        413: "The request body is larger than this service accepts",
    }
    message = messages.get(status) or error.description or error.name
    return render(ApiError(code, message, status=status), headers)


def _unhandled(error: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.path)
    return render(ApiError("INTERNAL_SERVICE_ERROR", "The service failed to answer this request"))


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(ApiError, render)
    app.register_error_handler(ProviderError, _from_provider)
    app.register_error_handler(HTTPException, _from_http)
    app.register_error_handler(Exception, _unhandled)
