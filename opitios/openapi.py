"""OpenAPI 3 generated from the code: the app's routes, the marshmallow schemas behind them, the error codes."""

from __future__ import annotations

from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec_webframeworks.flask import FlaskPlugin
from flask import Flask
from marshmallow import Schema

from opitios import extensions, openapi_examples
from opitios.endpoints import DOCUMENT, MARKET, TRADING, Endpoint, declared_in
from opitios.errors import ERRORS
from opitios.openapi_rules import (
    DECIMAL, ORDER_TYPES_COMPONENT, cross_field_rules, order_rules, order_types, symbol_list_pattern, symbol_pattern, told,
)
from opitios.schemas.bars import TIMEFRAMES, Timeframe
from opitios.schemas.batches import OneOf
from opitios.schemas.common import DateOrDateTime, PositiveDecimal, Symbol, SymbolList, WholeNumber
from opitios.schemas.envelopes import ErrorEnvelopeSchema, MarketMetadataSchema, MetadataSchema, TradingMetadataSchema
from opitios.schemas.trading import OptionOrderArgs, OrderArgs, PathOrderArgs, StockOrderArgs
from opitios.version import __version__

OPENAPI_VERSION = "3.0.3"  # what the bundled Swagger UI renders
SYMBOL_EXAMPLES = {"stock": "AAPL", "option": "AAPL261127C00190000"}
ORDER_BODIES = (OrderArgs, StockOrderArgs, OptionOrderArgs, PathOrderArgs)
PAGE_TOKEN = "page_token"
NOT_MODIFIED = "NotModified"

METADATA = {MARKET: MarketMetadataSchema, TRADING: TradingMetadataSchema}
KEYED = (
    "AUTHENTICATION_REQUIRED", "INVALID_API_KEY", "INSUFFICIENT_PERMISSIONS", "RATE_LIMIT_EXCEEDED", "SERVICE_NOT_READY",
)
UPSTREAM = (
    "INVALID_PARAMETER", "UPSTREAM_RATE_LIMITED", "UPSTREAM_INVALID_RESPONSE", "UPSTREAM_SERVICE_ERROR",
    "UPSTREAM_NOT_CONFIGURED", "UPSTREAM_AUTHENTICATION_FAILED", "UPSTREAM_TIMEOUT",
)
OVERSIZED_BODY = 413  # REQUEST_SIZE_EXCEEDED's status when the body itself is too large

HEADERS = {
    "X-Request-ID": ("the request's id: the client's own if sane, else generated", {"type": "string"}, True),
    "X-Error-Code": ("the error's code, as in the body", {"type": "string", "enum": list(ERRORS)}, True),
    "Retry-After": ("seconds to wait before retrying", {"type": "integer"}, True),
    "Cache-Control": ("max-age=N for market data (the entry's TTL left); no-store otherwise", {"type": "string"}, True),
    "X-Cache-Status": ("from the cache or not", {"type": "string", "enum": ["HIT", "MISS", "STALE"]}, True),
    "X-Data-Source": ("metadata.data_source", {"type": "string"}, True),
    "X-Data-Freshness": ("metadata.data_freshness_seconds, when the datum has a timestamp", {"type": "number"}, False),
    "ETag": ("a strong validator of the data (not the metadata), for If-None-Match", {"type": "string"}, True),
    "X-RateLimit-Limit": ("this client's limit", {"type": "integer"}, False),
    "X-RateLimit-Remaining": ("requests left in the window", {"type": "integer"}, False),
    "X-RateLimit-Reset": ("when the window resets, Unix seconds", {"type": "integer"}, False),
}
RATE_LIMIT_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
MARKET_HEADERS = ("X-Request-ID", "Cache-Control", "X-Cache-Status", "X-Data-Source", "X-Data-Freshness", "ETag")
SUCCESS_HEADERS = {
    MARKET: (*MARKET_HEADERS, *RATE_LIMIT_HEADERS),
    TRADING: ("X-Request-ID", "Cache-Control", "X-Data-Source", *RATE_LIMIT_HEADERS),
}
IF_NONE_MATCH = {
    "name": "If-None-Match", "in": "header", "required": False, "schema": {"type": "string"},
    "description": "an ETag of an earlier answer: 304 with no body (and no upstream call) while the data is unchanged",
}

DESCRIPTION = """\
A market-data and trading gateway in front of Alpaca that answers with real upstream data only.

Every answer is an envelope: `{"data", "metadata"}` on success, `{"error", "metadata"}` otherwise, with
`X-Request-ID` always and `X-Error-Code` on every error. Any path outside these answers 404 `NOT_FOUND`;
a method a path does not take answers 405 `METHOD_NOT_ALLOWED` with `Allow`. 429 and 503 carry `Retry-After`.

Market data needs an API key with the `read` scope (unless the operator opened it, `access.public_market_data`),
trading one with `trade` (`admin` allows both); send it as `X-API-Key` or `Authorization: Bearer`.
Operations and these documents are open.
"""


def build_spec(app: Flask) -> dict[str, Any]:
    """The OpenAPI description of every documented route of ``app``, as a JSON-ready dict.

    It states the batch limit in force (``limits.max_batch_symbols``), so it is built again when that changes.
    """
    marshmallow = MarshmallowPlugin(schema_name_resolver=_schema_name)
    spec = APISpec(
        title="opitios", version=__version__, openapi_version=OPENAPI_VERSION,
        plugins=[FlaskPlugin(), marshmallow], info={"description": DESCRIPTION},
    )
    _describe_custom_fields(marshmallow, extensions.of(app).runtime.section("limits")["max_batch_symbols"])
    spec.components.security_scheme("ApiKey", {"type": "apiKey", "in": "header", "name": "X-API-Key"})
    spec.components.security_scheme("Bearer", {"type": "http", "scheme": "bearer", "description": "the same API key"})
    for name, (description, schema, required) in HEADERS.items():
        spec.components.header(name, {"description": description, "required": required, "schema": schema})
    spec.components.parameter(IF_NONE_MATCH["name"], IF_NONE_MATCH["in"], IF_NONE_MATCH)
    spec.components.schema("ErrorEnvelope", {"example": openapi_examples.ERROR}, schema=ErrorEnvelopeSchema)
    spec.components.schema(ORDER_TYPES_COMPONENT, order_types())
    for order in ORDER_BODIES:  # registered before the paths refer to them, with the rules between their fields
        spec.components.schema(_schema_name(order), order_rules(order()), schema=order)
    declared = declared_in(app)
    for rule in app.url_map.iter_rules():
        operation = declared.get(rule.endpoint)
        if operation is None:
            continue
        described = _operation(marshmallow, spec, rule, operation)
        methods = sorted(rule.methods - {"HEAD", "OPTIONS"})
        spec.path(view=app.view_functions[rule.endpoint], app=app, operations={m.lower(): described for m in methods})
    return spec.to_dict()


def _schema_name(schema) -> str | None:
    """Components are named after their class; an instance narrowed with ``exclude`` or ``only`` stays inline."""
    if isinstance(schema, Schema) and (set(schema.exclude) - set(schema.opts.exclude) or schema.only):
        return None
    cls = schema if isinstance(schema, type) else type(schema)
    return cls.__name__.removesuffix("Schema")


def _describe_custom_fields(plugin: MarshmallowPlugin, max_symbols: int) -> None:
    """Types for our own fields; patterns, items and shapes from an attribute function."""
    for field_cls, openapi_type in (
        (Symbol, "string"), (SymbolList, "array"), (DateOrDateTime, "string"), (PositiveDecimal, "string"),
        (WholeNumber, "integer"), (Timeframe, "string"), (OneOf, None),
    ):
        plugin.map_to_openapi_type(field_cls, openapi_type, None)

    def properties(converter, field, **kwargs) -> dict:
        return _custom_field_properties(converter, field, max_symbols)

    plugin.converter.add_attribute_function(properties)


def _symbol(kind: str) -> dict:
    return {"type": "string", "pattern": symbol_pattern(kind), "example": SYMBOL_EXAMPLES[kind]}


def _custom_field_properties(converter, field, max_symbols: int) -> dict:
    """The OpenAPI properties our fields' own rules add (``converter`` is the plugin's)."""
    if isinstance(field, Symbol):
        return {**_symbol(field.kind), "description": f"a {field.kind} symbol, matched without regard to case"}
    limit = f"at most {max_symbols}: the operator's limits.max_batch_symbols (20 by default), counted after repeats"
    if isinstance(field, SymbolList) and field.comma_separated:
        return {"type": "string", "pattern": symbol_list_pattern(field.kind, max_symbols), "example": "AAPL,MSFT",
                "description": f"comma-separated, {limit}; blank entries and spaces around a symbol are ignored"}
    if isinstance(field, SymbolList):
        return {"items": _symbol(field.kind), "minItems": 1, "maxItems": max_symbols,
                "description": f"{limit}, which are asked for once"}
    if isinstance(field, DateOrDateTime):
        return {"anyOf": [{"format": "date"}, {"format": "date-time"}], "example": "2024-06-03T13:30:00Z",
                "description": "an ISO 8601 date or datetime (a naive one is UTC)"}
    if isinstance(field, PositiveDecimal):
        return {"pattern": DECIMAL, "example": "1.5",
                "description": "a positive decimal, kept exact (a JSON number is accepted too)"}
    if isinstance(field, Timeframe):
        return {"enum": list(TIMEFRAMES), "description": "matched without regard to case"}
    if isinstance(field, OneOf):
        return {"oneOf": [converter.resolve_nested_schema(schema) for schema in field.schemas]}
    return {}


def _operation(plugin: MarshmallowPlugin, spec: APISpec, rule, operation: Endpoint) -> dict:
    described: dict[str, Any] = {"tags": [operation.kind], "summary": operation.summary, "operationId": rule.endpoint}
    scope = operation.scope
    field_rules = cross_field_rules((operation.args, operation.body), operation.rules)
    description = " ".join([operation.description, *map(told, field_rules)]).strip()
    if scope is not None:
        described["security"] = [{"ApiKey": []}, {"Bearer": []}]
        described["x-scope"] = scope
        description = f"Needs an API key with the `{scope}` scope. {description}".strip()
    if description:
        described["description"] = description
    if field_rules:
        described["x-cross-field-rules"] = field_rules
    parameters = _parameters(plugin, rule, operation)
    if parameters:
        described["parameters"] = parameters
    if operation.body is not None:
        content = {"schema": _body(plugin, operation.body)}
        if operation.example_body is not None:
            content["example"] = operation.example_body
        described["requestBody"] = {"required": True, "content": {"application/json": content}}
    described["responses"] = {"200": _success(plugin, spec, operation), **_errors(plugin, spec, operation)}
    if operation.kind == MARKET and "GET" in rule.methods:
        described["responses"]["304"] = _shared(spec, NOT_MODIFIED, lambda: {
            "description": "Not Modified (If-None-Match)", "headers": _headers(MARKET_HEADERS),
        })
        if any(parameter["name"] == PAGE_TOKEN for parameter in parameters):
            described["responses"]["200"]["links"] = {"nextPage": _next_page(rule.endpoint, parameters)}
        described["parameters"] = [*parameters, IF_NONE_MATCH["name"]]  # a name: apispec refers to the component
    return described


def _next_page(endpoint: str, parameters: list[dict]) -> dict:
    """The link that says where a page token comes from: the same request, with the answer's next_page_token."""
    sent = {
        parameter["name"]: f"$request.{parameter['in']}.{parameter['name']}"
        for parameter in parameters
        if parameter["in"] in ("path", "query")
    }
    return {
        "operationId": endpoint,
        "parameters": {**sent, PAGE_TOKEN: "$response.body#/data/page_info/next_page_token"},
        "description": "The next page, while page_info.has_more is true",
    }


def _body(plugin: MarshmallowPlugin, body) -> dict:
    """The body's schema; an order narrowed with ``exclude`` stays inline, so its rules are added here."""
    schema = plugin.converter.resolve_nested_schema(body)
    if isinstance(body, OrderArgs) and "$ref" not in schema:
        schema.update(order_rules(body))
    return schema


def _parameters(plugin: MarshmallowPlugin, rule, operation: Endpoint) -> list[dict]:
    """Path and query parameters from the route's *Args schema; rule variables become path parameters."""
    in_path = {operation.path_fields.get(name, name): name for name in rule.arguments}
    parameters = []
    if operation.args is not None:
        for parameter in plugin.converter.schema2parameters(operation.args, location="query"):
            variable = in_path.get(parameter["name"])
            if variable is not None:
                parameter.update({"in": "path", "name": variable, "required": True})
            _no_null(parameter["schema"])
            parameters.append(parameter)
    parameters.extend(operation.parameters)
    return parameters


def _no_null(schema: dict) -> None:
    """A query string cannot carry null: an optional parameter is simply left out."""
    schema.pop("nullable", None)
    if "default" in schema and schema["default"] is None:
        del schema["default"]
    if "enum" in schema:
        schema["enum"] = [value for value in schema["enum"] if value is not None]


def _headers(names) -> dict:
    return {name: {"$ref": f"#/components/headers/{name}"} for name in names}


def _success(plugin: MarshmallowPlugin, spec: APISpec, operation: Endpoint) -> dict:
    if operation.kind == DOCUMENT:
        schema = {"type": "object"} if operation.media_type == "application/json" else {"type": "string"}
        return {"description": operation.summary, "headers": _headers(["X-Request-ID"]),
                "content": {operation.media_type: {"schema": schema}}}
    content: dict[str, Any] = {"schema": _envelope(plugin, spec, operation)}
    if operation.answer is not None:
        content["example"] = operation.answer
    headers = SUCCESS_HEADERS.get(operation.kind, ("X-Request-ID", "Cache-Control"))
    return {"description": operation.summary, "headers": _headers(headers), "content": {"application/json": content}}


def _envelope(plugin: MarshmallowPlugin, spec: APISpec, operation: Endpoint) -> dict:
    """The success envelope around the route's data; routes with the same data schema share one component."""
    metadata = METADATA.get(operation.kind, MetadataSchema)
    envelope = {
        "type": "object",
        "required": ["data", "metadata"],
        "properties": {"data": plugin.converter.resolve_nested_schema(operation.data),
                       "metadata": plugin.converter.resolve_nested_schema(metadata)},
        "additionalProperties": False,
    }
    data = _schema_name(operation.data)
    if data is None:  # a narrowed schema has no name of its own
        return envelope
    name = f"{data}Answer"
    if name not in spec.components.schemas:
        spec.components.schema(name, envelope)
    return {"$ref": f"#/components/schemas/{name}"}


def error_codes(operation: Endpoint) -> dict[int, list[str]]:
    """The error codes a route can answer with, by HTTP status."""
    keyed = (*KEYED, *UPSTREAM) if operation.scope is not None else ()
    body = ("INVALID_REQUEST_BODY",) if operation.body is not None else ()
    by_status: dict[int, list[str]] = {}
    for code in dict.fromkeys([*operation.codes, *keyed, *body, "INTERNAL_SERVICE_ERROR"]):
        by_status.setdefault(ERRORS[code][0], []).append(code)
    if body:
        by_status[OVERSIZED_BODY] = ["REQUEST_SIZE_EXCEEDED"]
    return dict(sorted(by_status.items()))


def _errors(plugin: MarshmallowPlugin, spec: APISpec, operation: Endpoint) -> dict:
    """The route's error responses, one per status; routes with the same codes at a status share one component."""
    return {
        str(status): _shared(spec, f"{status}.{'.'.join(codes)}", lambda: _error(plugin, status, codes))
        for status, codes in error_codes(operation).items()
    }


def _error(plugin: MarshmallowPlugin, status: int, codes: list[str]) -> dict:
    envelope = plugin.converter.resolve_nested_schema(ErrorEnvelopeSchema)
    headers = ["X-Request-ID", "X-Error-Code", *(["Retry-After"] if status in (429, 503) else [])]
    narrowed = {"properties": {"error": {"properties": {"code": {"enum": codes}}}}}  # the envelope gives the types
    return {
        "description": ", ".join(codes),
        "headers": _headers(headers),
        "content": {"application/json": {"schema": {"allOf": [envelope, narrowed]}}},
    }


def _shared(spec: APISpec, name: str, response) -> dict:
    """A ``$ref`` to the response component ``name``, registered from ``response()`` the first time it is asked for."""
    if name not in spec.components.responses:
        spec.components.response(name, response())
    return {"$ref": f"#/components/responses/{name}"}
