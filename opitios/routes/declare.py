"""``@declare``: a route states its facts once (opitios/endpoints.py), and its view gets validated arguments.

The wrapper loads the route's arguments (once per request: the client limiter, which decides
before the view runs, reads the same), refuses a batch past the limit in force, calls the view,
and renders what it returns in the envelope of the route's kind. A ``Response`` the view returns
passes through untouched.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from flask import Response, g, request
from marshmallow import Schema

from opitios import extensions
from opitios.endpoints import MARKET, OPERATIONS, TRADING, Endpoint
from opitios.envelope import plain_response, success_response
from opitios.errors import ApiError

MAX_JSON_DEPTH = 16  # our bodies nest two levels; anything deeper is not for us
# Query arguments loaded before, by route, path and query string: the same text loads the same way (the
# schemas read no clock and no setting), and a poller asks the same few URLs all day. Emptied when full.
LOADED_QUERIES = 4096
_loaded: dict[tuple, dict] = {}

# How a view's return value is rendered, by the route's kind: market data and broker answers are both
# a service's ``Result`` (its data already JSON), which the one success envelope renders.
RENDER: dict[str, Callable[[Any], Response]] = {
    MARKET: success_response,
    TRADING: success_response,
    OPERATIONS: plain_response,
}


def declare(kind: str, summary: str, data: type[Schema] | None = None, **facts) -> Callable[[Callable], Callable]:
    """Declare a view's route (see ``Endpoint`` for the facts); put it under ``@bp.get(...)`` and the like.

    A route with ``args`` or a ``body`` calls its view with the loaded arguments; any other, with
    Flask's path variables.
    """
    declared = Endpoint(kind, summary, data, **facts)
    render = RENDER.get(kind)

    def wrap(view: Callable) -> Callable:
        @functools.wraps(view)
        def serve(**path: str) -> Response:
            answer = view(arguments(declared)) if _takes_arguments(declared) else view(**path)
            return answer if isinstance(answer, Response) or render is None else render(answer)

        return declared.describe(serve)

    return wrap


def _takes_arguments(declared: Endpoint) -> bool:
    return declared.args is not None or declared.body is not None


def arguments(declared: Endpoint) -> dict:
    """The request's arguments as ``declared`` loads them, loaded once per request; a refusal is an ``ApiError``.

    The outcome is kept for the request, a refusal included, so no input is parsed twice.
    """
    outcomes = g.setdefault("arguments", {})
    if id(declared) not in outcomes:
        try:
            outcomes[id(declared)] = _checked_batch(declared, _load(declared))
        except ApiError as error:
            outcomes[id(declared)] = error
    outcome = outcomes[id(declared)]
    if isinstance(outcome, ApiError):
        raise outcome
    return outcome


def _load(declared: Endpoint) -> dict:
    path = request.view_args or {}
    if declared.body is None:
        asked = (id(declared), request.query_string, *path.values())
        loaded = _loaded.get(asked)
        if loaded is None:
            raw = {**request.args.to_dict(), **{declared.path_fields.get(name, name): value for name, value in path.items()}}
            loaded = declared.args.load(raw)  # a refusal raises, and is not kept
            if len(_loaded) >= LOADED_QUERIES:
                _loaded.clear()
            _loaded[asked] = loaded
        return dict(loaded)  # the view's own copy
    body = json_body()
    if declared.prepare is not None:
        body = declared.prepare(body, path)
    return (declared.loads or declared.body).load(body)


def _checked_batch(declared: Endpoint, args: dict) -> dict:
    """REQUEST_SIZE_EXCEEDED past the runtime batch limit (distinct symbols), before any upstream call or cost."""
    if declared.batch is None:
        return args
    limit = extensions.current().runtime.section("limits")["max_batch_symbols"]
    received = len(args[declared.batch])
    if received > limit:
        raise ApiError(
            "REQUEST_SIZE_EXCEEDED",
            f"At most {limit} symbols per request; this one has {received}",
            details={"max_symbols": limit, "received": received},
        )
    return args


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
