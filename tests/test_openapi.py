"""The OpenAPI description: served open, generated from the routes and schemas, with true examples, and from the CLI."""

import json
import re

import pytest
import requests
import schemathesis
from click.testing import CliRunner
from flask.cli import ScriptInfo
from schemathesis.specs.openapi.checks import response_schema_conformance

from opitios.cli import main
from opitios.errors import ERRORS
from opitios.openapi_examples import ANSWERS, BODIES
from opitios.openapi import build_spec, error_codes
from opitios.openapi_operations import MARKET, OPERATIONS, TRADING
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
    return {
        operation["operationId"]: (path, method, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
    }


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
    assert set(documented) == set(OPERATIONS)


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
    assert (batch["symbols"]["minItems"], batch["symbols"]["maxItems"]) == (1, 100)
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


def test_security_and_scopes(spec):
    assert spec["components"]["securitySchemes"] == {
        "ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
        "Bearer": {"type": "http", "scheme": "bearer", "description": "the same API key"},
    }
    for endpoint, (_, _, operation) in operations(spec).items():
        kind = OPERATIONS[endpoint].kind
        if kind in (MARKET, TRADING):
            assert operation["security"] == [{"ApiKey": []}, {"Bearer": []}]
            assert operation["x-scope"] == {MARKET: "read", TRADING: "trade"}[kind]
        else:
            assert "security" not in operation and "x-scope" not in operation


def test_error_responses_list_the_contract_codes_of_each_route(spec):
    for endpoint, (_, _, operation) in operations(spec).items():
        for status, codes in error_codes(OPERATIONS[endpoint]).items():
            response = operation["responses"][str(status)]
            assert all(ERRORS[code][0] == status or (status, code) == (413, "REQUEST_SIZE_EXCEEDED") for code in codes)
            narrowed = response["content"]["application/json"]["schema"]["allOf"]
            assert narrowed[0] == {"$ref": "#/components/schemas/ErrorEnvelope"}
            assert narrowed[1]["properties"]["error"]["properties"]["code"]["enum"] == codes
        assert "500" in operation["responses"]
    _, _, quote = operations(spec)["stocks.quote"]
    assert set(quote["responses"]) == {"200", "304", "400", "401", "403", "404", "429", "500", "502", "503", "504"}
    assert error_codes(OPERATIONS["stocks.quote"])[404] == ["SYMBOL_NOT_FOUND"]
    _, _, place = operations(spec)["trading.place"]
    assert {"413", "422"} <= set(place["responses"])


def test_every_example_matches_its_documented_shape(app, spec):
    """Response examples pass the same conformance check as real answers; body examples are requests the app accepts."""
    schema = schemathesis.openapi.from_dict(spec)
    client = app.test_client()
    assert set(BODIES) == {endpoint for endpoint, described in OPERATIONS.items() if described.body is not None}
    assert set(ANSWERS) <= set(OPERATIONS)
    for endpoint in OPERATIONS:
        operation = schema.find_operation_by_id(endpoint)
        path = {name: PATH_EXAMPLES[name] for name in re.findall(r"{(\w+)}", operation.path)}
        url = operation.path.format(**path)
        if endpoint in BODIES:
            answer = client.open(url, method=operation.method.upper(), json=BODIES[endpoint])
            assert answer.status_code not in (400, 413) and answer.status_code < 500, (endpoint, answer.get_json())
        if endpoint not in ANSWERS:
            continue
        request = requests.Request(operation.method.upper(), f"http://localhost{url}").prepare()
        body = json.dumps(ANSWERS[endpoint]).encode()
        example = schemathesis.Response(200, {"content-type": ["application/json"]}, body, request, 0.0, True)
        operation.Case(path_parameters=path).validate_response(example, checks=[response_schema_conformance])


def test_the_cli_prints_the_spec(app):
    result = CliRunner().invoke(main, ["openapi"], obj=ScriptInfo(create_app=lambda: app))

    assert result.exit_code == 0, result.output
    with app.app_context():
        assert json.loads(result.output) == build_spec(app)
