"""Property-based API tests: schemathesis turns every operation of the generated spec into requests to the app on the sandbox.

A request the description allows must be taken (positive data), one it forbids refused (negative data),
and every answer must be as documented. schemathesis's pytest loader does not work with the installed
pytest, so the operations are parametrised here and each one is given to Hypothesis directly.
"""

from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from opitios.app import create_app, stop_background
from opitios.endpoints import declared_in


def declared_routes():
    """Every declared route, from an app built only to be described (no database, defaults in force)."""
    app = create_app({"DATABASE_URL": "sqlite://"}, connect=False)
    try:
        return declared_in(app)
    finally:
        stop_background(app)


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    positive_data_acceptance,
]
EXAMPLES = 25  # per operation and mode: a bounded, repeatable run (derandomized)
# Negative data needs something to get wrong: a parameter or a body.
RUNS = [
    (endpoint, mode)
    for endpoint, operation in sorted(declared_routes().items())
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode is GenerationMode.POSITIVE or operation.args or operation.body or operation.parameters
]
# A well-formed order the broker refuses (an unknown asset, the market closed) is 422 ORDER_REJECTED:
# a business answer to valid data, like 404 for an unknown symbol, so valid data may get it.
CONFIG = SchemathesisConfig.from_dict(
    {
        "operations": [
            {
                "include-tag": "trading",
                "checks": {
                    "positive_data_acceptance": {"expected-statuses": ["2xx", "401", "403", "404", "422", "429", "5xx"]},
                },
            }
        ]
    }
)
PAGE_TOKEN = "page_token"


@pytest.fixture
def api(make_app, rows):
    """The spec as the app serves it, bound to the app on the sandbox, with client and upstream budgets out of the way."""
    rows.put("rate_limits", {"keyed_per_minute": 1_000_000, "keyed_per_hour": 1_000_000})
    rows.put("upstream", {"requests_per_minute": 100_000})  # rows are read when the app starts
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", make_app(), config=CONFIG)


@pytest.mark.parametrize(("endpoint", "mode"), RUNS)
def test_operation_keeps_its_contract(api, api_key, endpoint, mode):
    operation = api.find_operation_by_id(endpoint)
    strategy = operation.as_strategy(mode, headers={"X-API-Key": api_key})
    if mode is GenerationMode.POSITIVE:
        rules = operation.definition.raw.get("x-cross-field-rules", [])
        strategy = strategy.filter(lambda case: follows(case, rules) and not invents_a_page_token(case))

    @given(case=strategy)
    @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def run(case):
        response = case.call()
        assert response.status_code != 500, response.text
        case.validate_response(response, checks=CHECKS)

    run()


def follows(case, rules: list[dict]) -> bool:
    """Whether a case keeps the cross-field rules the operation states (x-cross-field-rules): JSON Schema cannot."""
    for rule in rules:
        first, last = (sent(case, name) for name in rule["fields"])
        if first is None or last is None:
            continue
        if rule["rule"] == "equal" and first != last:
            return False
        if rule["rule"] == "ordered" and in_order(first, last) is False:
            return False
    return True


def invents_a_page_token(case) -> bool:
    """A page token is only ever one the upstream handed out (its description, the nextPage links), so none is made up.

    That one made up is 400 INVALID_PARAMETER is tested in tests/test_bars.py and tests/test_options.py.
    """
    return sent(case, PAGE_TOKEN) is not None


def sent(case, name: str):
    """The value a case sends under ``name``, wherever it goes (query, path, header or body)."""
    body = case.body if isinstance(case.body, dict) else {}
    for where in (case.query or {}, case.path_parameters or {}, case.headers or {}, body):
        if name in where:
            return where[name]
    return None


def in_order(first, last) -> bool | None:
    """``first`` not past ``last`` as numbers, dates or moments; ``None`` when they are neither."""
    for as_sortable in (Decimal, moment):
        try:
            return as_sortable(str(first)) <= as_sortable(str(last))
        except (InvalidOperation, ValueError, TypeError):
            continue
    return None


def moment(text: str) -> datetime:
    if len(text) == 10:
        return datetime.combine(date.fromisoformat(text), datetime.min.time(), timezone.utc)
    return datetime.fromisoformat(text)
