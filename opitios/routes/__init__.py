"""Blueprints, one per resource; each route validates, calls one service method, and wraps the result."""

from __future__ import annotations

from flask import Flask, request

from opitios.errors import ApiError

API_PREFIX = "/api/v1"


def json_body() -> dict:
    """The request's JSON object body; anything else is INVALID_REQUEST_BODY."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        raise ApiError("INVALID_REQUEST_BODY", "The request needs a JSON object body")
    body = request.get_json(force=True, silent=True)
    if body is None:
        raise ApiError("INVALID_REQUEST_BODY", "The request body is not valid JSON")
    if not isinstance(body, dict):
        raise ApiError("INVALID_REQUEST_BODY", "The request body must be a JSON object")
    return body


def register_blueprints(app: Flask) -> None:
    from opitios.routes import ops, options, stocks

    for module in (stocks, options, ops):
        app.register_blueprint(module.bp, url_prefix=API_PREFIX)
