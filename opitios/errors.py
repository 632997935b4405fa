"""The contract's error vocabulary (CONTRACT §5) and the handlers that turn every failure into its envelope."""

from __future__ import annotations

import json
import logging
import math
import time

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from opitios import endpoints, extensions, metrics
from opitios.envelope import error_response
from opitios.error_log import declared_query
from opitios.request_id import current_request_id
from providers.base import ProviderError

log = logging.getLogger(__name__)

# code → (HTTP status, type, what the client can do about it)
ERRORS: dict[str, tuple[int, str, str]] = {
    "INVALID_SYMBOL_FORMAT": (400, "validation_error", "Send a stock symbol like AAPL or BRK.B, or an OCC option symbol like AAPL240216C00190000"),
    "INVALID_PARAMETER": (400, "validation_error", "Correct the named parameters and retry"),
    "INVALID_DATE_RANGE": (400, "validation_error", "Send a start that is not after the end"),
    "INVALID_REQUEST_BODY": (400, "validation_error", "Send a JSON object body as documented for this route"),
    "REQUEST_SIZE_EXCEEDED": (400, "validation_error", "Split the request into smaller ones"),
    "AUTHENTICATION_REQUIRED": (401, "authentication_failed", "Send an API key in X-API-Key"),
    "INVALID_API_KEY": (401, "authentication_failed", "Check the API key"),
    "INSUFFICIENT_PERMISSIONS": (403, "authorization_failed", "Use a key with the needed scope"),
    "SYMBOL_NOT_FOUND": (404, "data_unavailable", "Verify the symbol"),
    "OPTION_CONTRACT_NOT_FOUND": (404, "data_unavailable", "Verify the contract symbol, e.g. from the option chain"),
    "OPTIONS_CHAIN_UNAVAILABLE": (404, "data_unavailable", "Verify the underlying symbol and the filters"),
    "HISTORICAL_DATA_UNAVAILABLE": (404, "data_unavailable", "Verify the symbol and widen the date range"),
    "ORDER_NOT_FOUND": (404, "data_unavailable", "Verify the order id"),
    "NOT_FOUND": (404, "routing_error", "Check the path; all routes are under /api/v1"),
    "METHOD_NOT_ALLOWED": (405, "routing_error", "Use one of the methods in the Allow header"),
    "RATE_LIMIT_EXCEEDED": (429, "rate_limit_exceeded", "Wait for Retry-After seconds"),
    "UPSTREAM_RATE_LIMITED": (429, "upstream_service_error", "Wait for Retry-After seconds"),
    "ORDER_REJECTED": (422, "business_rule_violation", "Read the upstream's reason and change the order"),
    "UPSTREAM_INVALID_RESPONSE": (502, "upstream_service_error", "Retry later; the upstream sent an answer opitios cannot read"),
    "UPSTREAM_SERVICE_ERROR": (503, "upstream_service_error", "Retry after Retry-After seconds"),
    "UPSTREAM_NOT_CONFIGURED": (503, "upstream_service_error", "Ask the operator to configure upstream credentials"),
    "UPSTREAM_AUTHENTICATION_FAILED": (503, "upstream_service_error", "Ask the operator to check the upstream credentials"),
    "UPSTREAM_TIMEOUT": (504, "upstream_service_error", "Retry later"),
    "INTERNAL_SERVICE_ERROR": (500, "internal_error", "Retry later; report the request id if it persists"),
    # Not in the contract's table: what /health/ready answers while a dependency is down.
    "SERVICE_NOT_READY": (503, "service_unavailable", "Send traffic elsewhere until the failing checks pass"),
}

# Seconds a client should wait when the cause names no better figure.
DEFAULT_RETRY_AFTER = {429: 60, 503: 30}

_HTTP_CODES = {
    400: "INVALID_REQUEST_BODY",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "REQUEST_SIZE_EXCEEDED",
    429: "RATE_LIMIT_EXCEEDED",  # Flask-Limiter's RateLimitExceeded: this client's own limit
}


class ApiError(Exception):
    """A failure the client should hear about, named by its contract code."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        details: dict | None = None,
        status: int | None = None,
        retry_after: int | None = None,
    ):
        super().__init__(message)
        default_status, self.type, self.suggested_action = ERRORS[code]
        self.code = code
        self.message = message
        self.details = details or {}
        self.status = status or default_status
        self.retry_after = retry_after


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
    return error_response(
        status=error.status,
        code=error.code,
        type_=error.type,
        message=error.message,
        details=error.details,
        suggested_action=error.suggested_action,
        headers=headers,
    )


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
        429: f"This client's rate limit is spent ({error.description})",
    }
    message = messages.get(status) or error.description or error.name
    return render(ApiError(code, message, status=status, retry_after=_limit_retry_after(status)), headers)


def _limit_retry_after(status: int) -> int | None:
    """Seconds until this client's breached limit resets."""
    current = extensions.current().limiter.current_limit if status == 429 else None
    return max(1, math.ceil(current.reset_at - time.time())) if current is not None else None


def _unhandled(error: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.path)
    return render(ApiError("INTERNAL_SERVICE_ERROR", "The service failed to answer this request"))


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(ApiError, render)
    app.register_error_handler(ProviderError, _from_provider)
    app.register_error_handler(HTTPException, _from_http)
    app.register_error_handler(Exception, _unhandled)
