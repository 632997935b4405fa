"""The OpenAPI description's shapes, for a reviewer: no prose, and each node on one line where it fits.

``opitios openapi --shapes`` prints it; ``tests/openapi_snapshot.json`` is that output, so a change to what
the API accepts or answers shows in a diff of a few lines, while a reworded description shows nowhere.
"""

from __future__ import annotations

import json
from typing import Any

# Words for people, not shapes.
PROSE = {"description", "summary", "example", "examples", "title", "info", "tags"}
WIDTH = 120


def shapes(node: Any, names: bool = False) -> Any:
    """``node`` without its prose, and each ``{"$ref": "#/components/<section>/<name>"}`` as ``"#<name>"`` (where
    it stands says which section); under ``properties`` the keys are field names, kept whatever they are."""
    if isinstance(node, dict) and set(node) == {"$ref"}:
        return "#" + node["$ref"].rpartition("/")[2]
    if isinstance(node, dict):
        kept = {key: value for key, value in node.items() if names or key not in PROSE}
        return {key: shapes(value, names=key == "properties" and not names) for key, value in kept.items()}
    if isinstance(node, list):
        return [shapes(item) for item in node]
    return node


def reviewable(node: Any, indent: int = 0, before: int = 0) -> str:
    """JSON with a node on one line when it fits in ``WIDTH`` columns (``before`` of them taken by its indent
    and key); else its members below it, as many one-line members to a line as fit. A node with a single
    member opens and closes on its parent's lines, so chains of them add no depth."""
    flat = json.dumps(node)
    if before + len(flat) <= WIDTH or not isinstance(node, (dict, list)) or not node:
        return flat
    if isinstance(node, dict) and len(node) == 1:  # a chain of single members opens and closes on one line
        (key, value), = node.items()
        opening = f"{{{json.dumps(key)}: "
        return opening + reviewable(value, indent, before + len(opening)) + "}"
    inner = " " * (indent + 2)
    if isinstance(node, dict):
        members = []
        for key, value in node.items():
            member = f"{json.dumps(key)}: "
            members.append(member + reviewable(value, indent + 2, indent + 2 + len(member)))
        opening, closing = "{", "}"
    else:
        members = [reviewable(item, indent + 2, indent + 2) for item in node]
        opening, closing = "[", "]"
    lines = [inner + members[0]]
    for member in members[1:]:
        if "\n" in member or "\n" in lines[-1] or len(lines[-1]) + len(", ") + len(member) + len(",") > WIDTH:
            lines[-1] += ","
            lines.append(inner + member)
        else:
            lines[-1] += ", " + member
    return opening + "\n" + "\n".join(lines) + "\n" + " " * indent + closing
