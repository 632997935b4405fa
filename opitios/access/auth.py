"""Who is asking, and may they: the API key from the request, checked against the scope its route declares.

Market data needs ``read`` unless the operator opened it (``access.public_market_data``);
trading always needs ``trade``; ``admin`` allows everything. Operations
(health, metrics) are open.
"""

from __future__ import annotations

from flask import Flask, g, request

from opitios import endpoints, extensions
from opitios.access.keys import KeysUnavailable
from opitios.errors import ApiError


def presented_key() -> str | None:
    """``X-API-Key``, or ``Authorization: Bearer <key>`` for clients that can only set that header."""
    key = request.headers.get("X-API-Key", "").strip()
    if key:
        return key
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return None


def _authenticate() -> None:
    g.client = None
    declared = endpoints.current()
    needed = declared.scope if declared is not None else None
    if needed is None:
        return
    parts = extensions.current()
    key = presented_key()
    client = None
    if key is not None:
        try:
            client = parts.keys.verify(key)
        except KeysUnavailable:
            raise ApiError("SERVICE_NOT_READY", "API keys cannot be verified right now; retry shortly") from None
        if client is None:
            raise ApiError("INVALID_API_KEY", "The API key is not valid (unknown, malformed or revoked)")
        g.client = client  # known from here on, a refusal for its scope included
    if client is None:
        if needed == "read" and parts.runtime.section("access")["public_market_data"]:
            return
        raise ApiError("AUTHENTICATION_REQUIRED", "This route needs an API key (X-API-Key or Authorization: Bearer)")
    if not client.allows(needed):
        raise ApiError(
            "INSUFFICIENT_PERMISSIONS",
            f"The API key {client.prefix} lacks the '{needed}' scope",
            details={"needed": needed, "scopes": list(client.scopes)},
        )


def init_app(app: Flask) -> None:
    """Register before the rate limiter, which keys its limits on the client found here."""
    app.before_request(_authenticate)
