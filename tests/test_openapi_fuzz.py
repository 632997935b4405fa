"""Property-based API tests: schemathesis turns every operation of the generated spec into requests to the app on the sandbox."""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from opitios.openapi_operations import OPERATIONS

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
EXAMPLES = 25  # per operation and mode: a bounded, repeatable run (derandomized)
# Negative data needs something to get wrong: a parameter or a body.
RUNS = [
    (endpoint, mode)
    for endpoint, operation in sorted(OPERATIONS.items())
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode is GenerationMode.POSITIVE or operation.args or operation.body or operation.parameters
]


@pytest.fixture
def api(make_app, rows):
    """The spec as the app serves it, bound to the app on the sandbox, with client and upstream budgets out of the way."""
    rows.put("rate_limits", {"keyed_per_minute": 1_000_000, "keyed_per_hour": 1_000_000})
    rows.put("upstream", {"requests_per_minute": 100_000})  # rows are read when the app starts
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", make_app())


@pytest.mark.parametrize(("endpoint", "mode"), RUNS)
def test_operation_keeps_its_contract(api, api_key, endpoint, mode):
    operation = api.find_operation_by_id(endpoint)

    @given(case=operation.as_strategy(mode, headers={"X-API-Key": api_key}))
    @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def run(case):
        response = case.call()
        assert response.status_code != 500, response.text
        case.validate_response(response, checks=CHECKS)

    run()
