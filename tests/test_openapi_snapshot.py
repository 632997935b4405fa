"""The contract snapshot: the generated spec's request and response shapes are the committed ones."""

import json
from pathlib import Path

import pytest

from opitios.openapi import build_spec

SNAPSHOT = Path(__file__).with_name("openapi_snapshot.json")
# Words for people, not shapes: a change to these alone needs no new snapshot.
PROSE = {"description", "summary", "example", "examples", "title", "info", "tags"}


def shapes(node, names=False):
    """``node`` without its prose; under ``properties`` the keys are field names, kept whatever they are."""
    if isinstance(node, dict):
        kept = {key: value for key, value in node.items() if names or key not in PROSE}
        return {key: shapes(value, names=key == "properties" and not names) for key, value in kept.items()}
    if isinstance(node, list):
        return [shapes(item) for item in node]
    return node


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
    changed = differences(shapes(json.loads(SNAPSHOT.read_text())), shapes(generated))

    if changed:
        pytest.fail(
            "The API's request/response shapes differ from tests/openapi_snapshot.json:\n  "
            + "\n  ".join(changed[:40])
            + "\nIf the change is intended, regenerate the snapshot: opitios openapi > tests/openapi_snapshot.json",
            pytrace=False,
        )


def test_shapes_ignore_prose_but_keep_field_names():
    schema = {"description": "d", "properties": {"summary": {"type": "integer", "description": "x"}}}

    assert shapes(schema) == {"properties": {"summary": {"type": "integer"}}}
