"""The OpenAPI description: served open, generated from the routes and schemas, with true examples, and from the CLI."""

import json
import re

import pytest
import requests
import schemathesis
from click.testing import CliRunner
from flask.cli import ScriptInfo
from schemathesis.specs.openapi.checks import response_schema_conformance

from opitios import extensions
from opitios.cli import main
from opitios.endpoints import MARKET, TRADING, declared_in
from opitios.errors import ERRORS
from opitios.openapi import build_spec, error_codes
from opitios.schemas.bars import BarsArgs
from opitios.schemas.options import ChainQueryArgs

UNDOCUMENTED = {"docs.asset", "static"}  # the docs page's files; Flask's own static route
PATH_EXAMPLES = {"symbol": "AAPL", "option_symbol": "AAPL261127C00190000", "underlying": "AAPL",
                 "order_ref": "477510a8-b1dc-4a73-ae1f-f53d4b9c4c3c"}


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def spec(app):
    return app.test_client().get("/api/v1/openapi.json").get_json()


def operations(spec):
    """Each operation by its id, with the parameters and responses it shares with others looked up."""
    return {
        operation["operationId"]: (path, method, {
            **operation,
            "parameters": [resolved(spec, parameter) for parameter in operation.get("parameters", [])],
            "responses": {status: resolved(spec, response) for status, response in operation["responses"].items()},
        })
        for path, item in spec["paths"].items()
        for method, operation in item.items()
    }


def resolved(spec, node):
    if "$ref" not in node:
        return node
    section, name = node["$ref"].removeprefix("#/components/").split("/")
    return spec["components"][section][name]


def test_the_spec_is_served_without_a_key(app):
    response = app.test_client().get("/api/v1/openapi.json", headers={"X-API-Key": ""})

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json()["openapi"] == "3.0.3"


def test_every_route_is_documented_with_its_methods(app, spec):
    documented = operations(spec)
    for rule in app.url_map.iter_rules():
        if rule.endpoint in UNDOCUMENTED:
            continue
        path, method, _ = documented[rule.endpoint]
        assert path == re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        assert method.upper() in rule.methods
    assert set(documented) == set(declared_in(app))


def test_parameters_come_from_the_args_schemas_that_validate(spec):
    _, _, bars = operations(spec)["stocks.bars"]
    where = {parameter["name"]: parameter["in"] for parameter in bars["parameters"]}
    query = {name: "query" for name in BarsArgs().fields if name != "symbol"}
    assert where == {"symbol": "path", **query, "If-None-Match": "header"}
    limit = next(p for p in bars["parameters"] if p["name"] == "limit")
    assert limit["schema"] == {"type": "integer", "default": 100, "minimum": 1, "maximum": 1000}

    path, _, chain = operations(spec)["options.chain"]
    assert path == "/api/v1/options/{underlying}/chain"
    names = [parameter["name"] for parameter in chain["parameters"]]
    assert names[: len(ChainQueryArgs().fields)] == [
        "underlying" if name == "underlying_symbol" else name for name in ChainQueryArgs().fields
    ]
    assert all("nullable" not in p["schema"] and p["schema"].get("default", 0) is not None for p in chain["parameters"])


def test_our_fields_are_described_by_their_rules(spec):
    schemas = spec["components"]["schemas"]
    batch = schemas["StockBatchBodyArgs"]["properties"]
    assert batch["symbols"]["type"] == "array"
    assert batch["symbols"]["items"]["pattern"] == "^[A-Za-z][A-Za-z0-9.]{0,9}$"
    assert (batch["symbols"]["minItems"], batch["symbols"]["maxItems"]) == (1, 20)  # the default batch limit
    assert batch["max_age_seconds"]["type"] == "integer"
    order = schemas["OrderArgs"]["properties"]
    assert order["qty"]["type"] == "string" and order["qty"]["pattern"]
    assert schemas["StockQuote"]["properties"]["bid_price"] == {"type": "number", "nullable": True}
    assert schemas["StockBatch"]["properties"]["quotes"]["items"] == {
        "oneOf": [{"$ref": "#/components/schemas/StockBatchEntry"}, {"$ref": "#/components/schemas/ErrorEntry"}]
    }
    _, _, quotes = operations(spec)["stocks.quotes"]
    symbols = next(p for p in quotes["parameters"] if p["name"] == "symbols")
    assert symbols["schema"]["type"] == "string" and symbols["required"] is True
    _, _, bars = operations(spec)["stocks.bars"]
    start = next(p for p in bars["parameters"] if p["name"] == "start")
    assert start["schema"]["anyOf"] == [{"format": "date"}, {"format": "date-time"}]


def test_security_and_scopes(app, spec):
    assert spec["components"]["securitySchemes"] == {
        "ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
        "Bearer": {"type": "http", "scheme": "bearer", "description": "the same API key"},
    }
    for endpoint, (_, _, operation) in operations(spec).items():
        kind = declared_in(app)[endpoint].kind
        if kind in (MARKET, TRADING):
            assert operation["security"] == [{"ApiKey": []}, {"Bearer": []}]
            assert operation["x-scope"] == {MARKET: "read", TRADING: "trade"}[kind]
        else:
            assert "security" not in operation and "x-scope" not in operation


def test_error_responses_list_the_contract_codes_of_each_route(app, spec):
    declared = declared_in(app)
    for endpoint, (_, _, operation) in operations(spec).items():
        for status, codes in error_codes(declared[endpoint]).items():
            response = operation["responses"][str(status)]
            assert all(ERRORS[code][0] == status or (status, code) == (413, "REQUEST_SIZE_EXCEEDED") for code in codes)
            narrowed = response["content"]["application/json"]["schema"]["allOf"]
            assert narrowed[0] == {"$ref": "#/components/schemas/ErrorEnvelope"}
            assert narrowed[1]["properties"]["error"]["properties"]["code"]["enum"] == codes
        assert "500" in operation["responses"]
    _, _, quote = operations(spec)["stocks.quote"]
    assert set(quote["responses"]) == {"200", "304", "400", "401", "403", "404", "429", "500", "502", "503", "504"}
    assert error_codes(declared["stocks.quote"])[404] == ["SYMBOL_NOT_FOUND"]
    _, _, place = operations(spec)["trading.place"]
    assert {"413", "422"} <= set(place["responses"])


def test_every_example_matches_its_documented_shape(app, spec):
    """Response examples pass the same conformance check as real answers; body examples are requests the app accepts."""
    schema = schemathesis.openapi.from_dict(spec)
    client = app.test_client()
    declared = declared_in(app)
    bodies = {endpoint: described.example_body for endpoint, described in declared.items() if described.example_body}
    answers = {endpoint: described.answer for endpoint, described in declared.items() if described.answer}
    assert set(bodies) == {endpoint for endpoint, described in declared.items() if described.body is not None}
    for endpoint in declared:
        operation = schema.find_operation_by_id(endpoint)
        path = {name: PATH_EXAMPLES[name] for name in re.findall(r"{(\w+)}", operation.path)}
        url = operation.path.format(**path)
        if endpoint in bodies:
            answer = client.open(url, method=operation.method.upper(), json=bodies[endpoint])
            assert answer.status_code not in (400, 413) and answer.status_code < 500, (endpoint, answer.get_json())
        if endpoint not in answers:
            continue
        request = requests.Request(operation.method.upper(), f"http://localhost{url}").prepare()
        body = json.dumps(answers[endpoint]).encode()
        example = schemathesis.Response(200, {"content-type": ["application/json"]}, body, request, 0.0, True)
        operation.Case(path_parameters=path).validate_response(example, checks=[response_schema_conformance])


def test_the_cli_prints_the_spec(app):
    result = CliRunner().invoke(main, ["openapi"], obj=ScriptInfo(create_app=lambda: app))

    assert result.exit_code == 0, result.output
    with app.app_context():
        assert json.loads(result.output) == build_spec(app)


NOT_A_DAY = "A000000C00000000"  # OCC-shaped, but 00-00-00 is no expiration date


def test_the_option_symbol_pattern_refuses_what_the_validator_refuses(spec):
    api = schemathesis.openapi.from_dict(spec)
    path = {p.name: p for p in api.find_operation_by_id("options.quote").path_parameters}["option_symbol"]
    body = api.find_operation_by_id("options.quote_from_body").get_body_for_media_type("application/json")
    batch = api.find_operation_by_id("options.quotes_batch").get_body_for_media_type("application/json")

    assert not path.is_valid(NOT_A_DAY) and path.is_valid("AAPL240216C00190000")
    assert not body.is_valid({"option_symbol": NOT_A_DAY}) and body.is_valid({"option_symbol": "aapl240229p00190000"})
    assert not body.is_valid({"option_symbol": "AAPL230229C00190000"})  # 2023 had no 29 February
    assert not batch.is_valid({"option_symbols": ["AAPL240216C00190000", NOT_A_DAY]})


def test_the_spec_states_the_ordering_rules_the_validators_keep(spec):
    ordered = {
        "stocks.bars": [("start", "end", "INVALID_DATE_RANGE")],
        "options.chain": [
            ("expiration_date_gte", "expiration_date_lte", "INVALID_DATE_RANGE"),
            ("min_strike", "max_strike", "INVALID_PARAMETER"),
        ],
    }
    ordered["options.chain_from_body"] = ordered["options.chain"]
    for endpoint, pairs in ordered.items():
        _, _, operation = operations(spec)[endpoint]
        stated = [(*rule["fields"], rule["error"]) for rule in operation["x-cross-field-rules"] if rule["rule"] == "ordered"]
        assert stated == pairs
        assert all(f"`{first}` may not be past `{last}`" in operation["description"] for first, last, _ in pairs)


def test_the_spec_states_that_the_idempotency_key_must_match_the_client_order_id(spec):
    for endpoint in ("trading.place", "trading.place_stock", "trading.place_option", "trading.buy", "trading.sell"):
        _, _, operation = operations(spec)[endpoint]
        assert {"rule": "equal", "fields": ["Idempotency-Key", "client_order_id"], "error": "INVALID_REQUEST_BODY"} in (
            operation["x-cross-field-rules"]
        )


OCC = "AAPL261127C00190000"
ORDER_ROUTES = {
    "/api/v1/orders": "trading.place", "/api/v1/stocks/order": "trading.place_stock",
    "/api/v1/options/order": "trading.place_option", "/api/v1/stocks/AAPL/buy": "trading.buy",
    "/api/v1/stocks/AAPL/sell": "trading.sell",
}
ORDERS = [  # (route, body): the spec's verdict on each must be the service's
    ("/api/v1/orders", {"symbol": "AAPL", "qty": "1", "side": "buy"}),
    ("/api/v1/orders", {"symbol": "AAPL", "qty": "1", "side": "buy", "limit_price": "5"}),
    ("/api/v1/orders", {"symbol": "AAPL", "qty": "1", "side": "buy", "type": "market", "stop_price": "5"}),
    ("/api/v1/orders", {"symbol": "AAPL", "qty": "1", "side": "buy", "type": "market", "limit_price": None}),
    ("/api/v1/orders", {"symbol": "AAPL", "qty": "1", "side": "buy", "type": "limit"}),
    ("/api/v1/orders", {"symbol": "AAPL", "qty": "1", "side": "buy", "type": "limit", "limit_price": None}),
    ("/api/v1/orders", {"symbol": "AAPL", "qty": "1", "side": "buy", "type": "limit", "limit_price": "5"}),
    ("/api/v1/orders", {"symbol": "AAPL", "qty": "1", "side": "buy", "type": "limit", "limit_price": "5", "stop_price": "4"}),
    ("/api/v1/orders", {"symbol": "AAPL", "qty": "1", "side": "buy", "type": "stop_limit", "limit_price": "5", "stop_price": "4"}),
    ("/api/v1/orders", {"symbol": "AAPL", "qty": "1", "side": "buy", "type": "stop", "stop_price": "4"}),
    ("/api/v1/orders", {"qty": "1", "side": "buy"}),
    ("/api/v1/orders", {"symbol": "AAPL", "option_symbol": OCC, "qty": "1", "side": "buy"}),
    ("/api/v1/orders", {"symbol": None, "option_symbol": OCC, "qty": "1", "side": "buy"}),
    ("/api/v1/orders", {"symbol": OCC, "qty": "1", "side": "buy"}),
    ("/api/v1/orders", {"symbol": OCC, "qty": "1.5", "side": "buy"}),
    ("/api/v1/orders", {"option_symbol": NOT_A_DAY, "qty": "1", "side": "buy"}),
    ("/api/v1/orders", {"symbol": "AAPL", "qty": "1.5", "side": "buy"}),
    ("/api/v1/orders", {"symbol": "AAPL", "qty": "1.5", "side": "buy", "time_in_force": "gtc"}),
    ("/api/v1/orders", {"symbol": "AAPL", "qty": "2.000", "side": "buy", "time_in_force": "gtc"}),
    ("/api/v1/orders", {"symbol": "AAPL", "qty": "0", "side": "buy"}),
    ("/api/v1/orders", {"symbol": "AAPL", "qty": "0.0", "side": "buy"}),
    ("/api/v1/orders", {"symbol": "", "qty": "1", "side": "buy"}),
    ("/api/v1/stocks/order", {"symbol": "AAPL", "qty": "1", "side": "sell"}),
    ("/api/v1/stocks/order", {"symbol": OCC, "qty": "1", "side": "sell"}),
    ("/api/v1/stocks/order", {"option_symbol": OCC, "qty": "1", "side": "sell"}),
    ("/api/v1/options/order", {"option_symbol": OCC, "qty": "1", "side": "buy"}),
    ("/api/v1/options/order", {"symbol": OCC, "qty": "1", "side": "buy"}),
    ("/api/v1/options/order", {"symbol": "AAPL", "qty": "1", "side": "buy"}),
    ("/api/v1/options/order", {"option_symbol": OCC, "qty": "2.5", "side": "buy"}),
    ("/api/v1/stocks/AAPL/buy", {"qty": "1"}),
    ("/api/v1/stocks/AAPL/buy", {"qty": "1.5", "time_in_force": "gtc"}),
    ("/api/v1/stocks/AAPL/sell", {"qty": "1", "type": "market", "limit_price": "5"}),
    ("/api/v1/stocks/AAPL/sell", {"qty": "1", "type": "stop_limit", "limit_price": "5", "stop_price": "4"}),
]


def test_the_order_bodies_the_spec_allows_are_the_ones_the_service_takes(app, spec):
    """The cross-field rules of an order (prices by type, one instrument, whole contracts, fractional day orders)."""
    api = schemathesis.openapi.from_dict(spec)
    client = app.test_client()
    for route, body in ORDERS:
        operation = api.find_operation_by_id(ORDER_ROUTES[route])
        allowed = operation.get_body_for_media_type("application/json").is_valid(body)
        response = client.post(route, json=body)
        assert response.status_code < 500, (route, body, response.get_json())
        assert allowed == (response.status_code != 400), (route, body, allowed, response.get_json())


def test_the_spec_states_the_batch_limit_in_force(make_app, rows):
    app = make_app()
    served = app.test_client().get("/api/v1/openapi.json").get_json()
    assert served["components"]["schemas"]["StockBatchBodyArgs"]["properties"]["symbols"]["maxItems"] == 20

    rows.put("limits", {"max_batch_symbols": 5})
    extensions.of(app).runtime.refresh()  # what every worker does within config_refresh_seconds
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    api = schemathesis.openapi.from_dict(spec)

    assert spec["components"]["schemas"]["StockBatchBodyArgs"]["properties"]["symbols"]["maxItems"] == 5
    symbols = {p.name: p for p in api.find_operation_by_id("stocks.quotes").query}["symbols"]
    assert symbols.is_valid("A,B,C,D,E") and symbols.is_valid(" a, b,,C,D,E,")
    assert not symbols.is_valid("A,B,C,D,E,F")


def test_page_tokens_are_described_as_the_upstreams_passed_through(spec):
    for endpoint in ("stocks.bars", "options.chain"):
        _, _, operation = operations(spec)[endpoint]
        token = next(p for p in operation["parameters"] if p["name"] == "page_token")
        assert token["schema"] == {"type": "string", "minLength": 1, "maxLength": 1024}
        assert "next_page_token" in token["description"]  # any token of that length passes, as the upstream gave it
        link = operation["responses"]["200"]["links"]["nextPage"]
        assert link["operationId"] == endpoint
        assert link["parameters"]["page_token"] == "$response.body#/data/page_info/next_page_token"
