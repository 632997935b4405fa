"""The contract's error vocabulary (CONTRACT §5): every code with its status, type and advice, and ``ApiError``.

Plain Python: services and schemas raise these without knowing about HTTP or Flask;
``opitios.errors`` renders them as the error envelope.
"""

from __future__ import annotations

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
