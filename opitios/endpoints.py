"""What a route declares about itself, once: its arguments, its answer, its scope, its cost, its errors, its examples.

A view carries its ``Endpoint`` (``opitios.routes.declare`` puts it there). Its wrapper loads the
arguments from it; authentication reads the scope, the client limiter the cost, the error log the
query parameters worth keeping, and the OpenAPI description everything else. Nothing here imports
the rest of opitios, so each of those can.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from flask import Flask, request
from marshmallow import Schema

# Kinds of route: who may call it and what its answers carry.
MARKET, TRADING, OPERATIONS, DOCUMENT = "market data", "trading", "operations", "documents"
# The API-key scope each kind needs; the other kinds are open.
SCOPES = {MARKET: "read", TRADING: "trade"}

V = TypeVar("V", bound=Callable)


@dataclass(frozen=True)
class Endpoint:
    kind: str
    summary: str
    data: type[Schema] | None = None  # the success envelope's ``data``
    args: Schema | None = None  # path and query arguments
    path_fields: Mapping[str, str] = field(default_factory=dict)  # rule variable → args field, where they differ
    body: Schema | None = None  # the JSON body a client sends
    # The body and the path variables → what is loaded, and the schema that loads it when it is not ``body``
    # (a route whose path names part of the order).
    prepare: Callable[[dict, Mapping[str, Any]], dict] | None = None
    loads: Schema | None = None
    # The argument that lists a batch's symbols: at most limits.max_batch_symbols, and each costs one request.
    batch: str | None = None
    parameters: tuple[dict, ...] = ()  # parameters no schema describes (headers, an order id)
    codes: tuple[str, ...] = ()  # error codes of this route beyond those of its kind
    rules: tuple[dict, ...] = ()  # cross-field rules beyond those its schemas declare (x-cross-field-rules)
    description: str = ""
    media_type: str = "application/json"  # of a document's answer
    answer: dict | None = None  # an example of a whole success answer
    example_body: dict | None = None  # an example of a body the route takes

    @property
    def scope(self) -> str | None:
        """The API-key scope a client needs; None: the route is open (and not counted against a client limit)."""
        return SCOPES.get(self.kind)

    @property
    def query_names(self) -> frozenset[str]:
        """The parameter names its arguments schema declares."""
        fields = self.args.load_fields.items() if self.args is not None else ()
        return frozenset(field.data_key or name for name, field in fields)

    def describe(self, view: V) -> V:
        """Put this declaration on ``view``."""
        view.declared = self
        return view


def of(view: Callable | None) -> Endpoint | None:
    """What ``view`` declares; None for a view that declares nothing (Flask's static files, the docs' assets)."""
    return getattr(view, "declared", None)


def declared_in(app: Flask) -> dict[str, Endpoint]:
    """Every route of ``app`` that declares itself, by endpoint name."""
    return {name: declared for name, view in app.view_functions.items() if (declared := of(view)) is not None}


def current() -> Endpoint | None:
    """What the route of the current request declares; None without a route (a 404, a 405) or a declaration."""
    return request.declared  # found once per request by the app's request class (opitios/app.py)
