"""Blueprints, one per resource; each route validates, calls one service method, and wraps the result."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, current_app, g, request
from marshmallow import Schema

from opitios.errors import ApiError
from opitios.services import Services

API_PREFIX = "/api/v1"
MAX_JSON_DEPTH = 16  # our bodies nest two levels; anything deeper is not for us


def _depth(value, limit: int) -> int:
    """Nesting depth of a parsed JSON value, counted without recursion, stopping past ``limit``."""
    deepest, pending = 0, [(value, 1)]
    while pending and deepest <= limit:
        item, level = pending.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, level)
            children = item.values() if isinstance(item, dict) else item
            pending.extend((child, level + 1) for child in children)
    return deepest


def services() -> Services:
    """The current app's services."""
    return current_app.extensions["opitios"]


def json_body() -> dict:
    """The request's JSON object body (any Content-Type), at most MAX_JSON_DEPTH deep; else INVALID_REQUEST_BODY."""
    raw = request.get_data(cache=True)  # the size was bounded (413) before anything was read
    if not raw.strip():
        raise ApiError("INVALID_REQUEST_BODY", "The request needs a JSON object body")
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: nesting too deep for the parser itself
        raise ApiError("INVALID_REQUEST_BODY", "The request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError("INVALID_REQUEST_BODY", "The request body must be a JSON object")
    if _depth(body, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
        raise ApiError("INVALID_REQUEST_BODY", f"The request body nests deeper than {MAX_JSON_DEPTH} levels")
    return body


def validated(schema: Schema, read: Callable[[], Any]) -> dict:
    """``schema.load(read())``, once per request: the limiter's cost (``@costs``) and the view share it.

    The outcome is kept for the request, a refusal (``ApiError``) included, so no input is parsed twice.
    """
    outcomes = g.setdefault("validated", {})
    if id(schema) not in outcomes:
        try:
            outcomes[id(schema)] = schema.load(read())
        except ApiError as error:
            outcomes[id(schema)] = error
    outcome = outcomes[id(schema)]
    if isinstance(outcome, ApiError):
        raise outcome
    return outcome


def client_blueprints() -> list[Blueprint]:
    """The blueprints behind API keys and client rate limits (market data and trading)."""
    from opitios.routes import options, stocks, trading

    return [stocks.bp, options.bp, trading.bp]


def register_blueprints(app: Flask) -> None:
    from opitios.routes import docs, ops

    for blueprint in (*client_blueprints(), ops.bp, docs.bp):
        app.register_blueprint(blueprint, url_prefix=API_PREFIX)
