"""docs/CONTRACT.md against the code, both ways: its routes are the OpenAPI description's, its error codes
errors.py's table, its environment variables the ones the service reads, its data sources the schemas'."""

import re

import pytest

from opitios.config import SETTING_NAMES
from opitios.db import PROJECT_ROOT
from opitios.errors import ERRORS
from opitios.openapi import build_spec

CONTRACT = PROJECT_ROOT / "docs" / "CONTRACT.md"
ROUTE_ROW = re.compile(r"^\| (GET|POST|PUT|PATCH|DELETE) \| `(/[^`]*)` \|", re.MULTILINE)
ERROR_ROW = re.compile(r"^\| `([A-Z_]+)` \| (\d{3}) \| `([a-z_]+)` \|", re.MULTILINE)
VARIABLE_ROW = re.compile(r"^\| (`[A-Z_]+`(?:, `[A-Z_]+`)*) \|", re.MULTILINE)
SOURCE_ROW = re.compile(r"^\| `([a-z_]+)` \|", re.MULTILINE)


def part(heading: str) -> str:
    """The contract's text under ``heading`` (a whole heading line), up to the next heading of its level or above."""
    text = CONTRACT.read_text()
    level = heading.split(" ")[0]
    start = text.index(f"\n{heading}\n")
    following = [text.find(f"\n{'#' * depth} ", start + 1) for depth in range(1, len(level) + 1)]
    ends = [index for index in following if index != -1]
    return text[start:min(ends) if ends else None]


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    from opitios.app import create_app

    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path_factory.mktemp('contract') / 'unused.db'}"}, connect=False)
    with app.app_context():
        return build_spec(app)


def test_the_contract_lists_exactly_the_routes_of_the_openapi_description(spec):
    documented = ROUTE_ROW.findall(part("## 4. Routes"))
    described = {(method.upper(), path) for path, operations in spec["paths"].items() for method in operations}

    assert len(documented) == len(set(documented)), "a route is listed twice"
    assert set(documented) - described == set(), "in docs/CONTRACT.md, not in the OpenAPI description"
    assert described - set(documented) == set(), "in the OpenAPI description, not in docs/CONTRACT.md"


def test_the_contract_lists_exactly_the_error_codes_of_the_code():
    rows = ERROR_ROW.findall(part("## 5. Error codes"))
    documented = {code: (int(status), kind) for code, status, kind in rows}

    assert len(rows) == len(documented), "a code is listed twice"
    assert documented == {code: (status, kind) for code, (status, kind, _) in ERRORS.items()}


def test_the_contract_lists_exactly_the_environment_the_service_reads():
    documented = {name for cell in VARIABLE_ROW.findall(part("### Environment")) for name in re.findall(r"`([A-Z_]+)`", cell)}
    gunicorn = set(re.findall(r"\"(OPITIOS_[A-Z_]+)\"", (PROJECT_ROOT / "gunicorn.conf.py").read_text()))

    assert documented == set(SETTING_NAMES) | gunicorn


def test_the_contract_lists_exactly_the_data_sources_of_the_schemas(spec):
    schemas = spec["components"]["schemas"]
    allowed = {value for name in ("MarketMetadata", "TradingMetadata") for value in schemas[name]["properties"]["data_source"]["enum"]}
    table = part("## 2. Envelopes").split("| `data_source` | for |", 1)[1].split("\n\n", 1)[0]

    assert set(SOURCE_ROW.findall(table)) == allowed


def test_the_readme_links_the_contract_in_the_repository():
    readme = (PROJECT_ROOT / "README.md").read_text()

    assert "(docs/CONTRACT.md)" in readme
    assert "shared folder" not in readme
