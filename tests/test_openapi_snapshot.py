"""The contract snapshot: the generated spec's request and response shapes are the committed ones."""

import json
from pathlib import Path

import pytest

from opitios.openapi import build_spec
from opitios.openapi_shapes import WIDTH, reviewable, shapes

SNAPSHOT = Path(__file__).with_name("openapi_snapshot.json")
RENEW = "opitios openapi --shapes > tests/openapi_snapshot.json"


def differences(old, new, where="") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        found = []
        for key in sorted(set(old) | set(new)):
            if key not in new:
                found.append(f"{where}/{key}: removed")
            elif key not in old:
                found.append(f"{where}/{key}: added")
            else:
                found += differences(old[key], new[key], f"{where}/{key}")
        return found
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [line for index, (a, b) in enumerate(zip(old, new)) for line in differences(a, b, f"{where}/{index}")]
    return [] if old == new else [f"{where}: {json.dumps(old)} -> {json.dumps(new)}"]


def test_the_spec_keeps_the_committed_shapes(make_app):
    app = make_app()
    with app.app_context():
        generated = build_spec(app)
    changed = differences(json.loads(SNAPSHOT.read_text()), shapes(generated))

    if changed:
        pytest.fail(
            "The API's request/response shapes differ from tests/openapi_snapshot.json:\n  "
            + "\n  ".join(changed[:40])
            + f"\nIf the change is intended, renew the snapshot: {RENEW}",
            pytrace=False,
        )


def test_the_snapshot_is_the_commands_output_and_stays_readable(runner):
    """What the command prints is what is committed, small enough to review: shared errors are references."""
    printed = runner.invoke(args=["openapi", "--shapes"]).stdout

    assert printed == SNAPSHOT.read_text(), f"renew it: {RENEW}"
    assert len(printed.splitlines()) < 1500
    snapshot = json.loads(printed)
    quote = snapshot["paths"]["/api/v1/stocks/{symbol}/quote"]["get"]["responses"]
    assert quote["404"] == "#404.SYMBOL_NOT_FOUND"
    assert "404.SYMBOL_NOT_FOUND" in snapshot["components"]["responses"]


def test_shapes_ignore_prose_but_keep_field_names_and_name_references():
    schema = {"description": "d", "properties": {"summary": {"type": "integer", "description": "x"},
                                                 "quote": {"$ref": "#/components/schemas/StockQuote"}}}

    assert shapes(schema) == {"properties": {"summary": {"type": "integer"}, "quote": "#StockQuote"}}


def test_a_node_takes_one_line_when_it_fits_and_single_members_add_no_depth():
    narrow = {"a": {"b": {"c": list(range(40)), "d": 1}}}

    printed = reviewable(narrow)

    assert json.loads(printed) == narrow
    assert printed.splitlines()[0] == '{"a": {"b": {'
    assert all(len(line) <= WIDTH for line in printed.splitlines())
    assert reviewable({"x": [1, 2]}) == '{"x": [1, 2]}'
