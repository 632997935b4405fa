"""Answers' data as JSON bytes, outside any request: orjson, and the standard library for what orjson cannot hold."""

from __future__ import annotations

import json
from typing import Any

import orjson


def to_json(value: Any) -> bytes:
    """Compact JSON of plain, JSON-safe data (the providers' values, rendered by the output schemas)."""
    try:
        return orjson.dumps(value)
    except TypeError:  # an integer past 64 bits, which the upstream's JSON may hold and orjson refuses
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
