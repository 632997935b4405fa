"""The control API under /_sandbox/: an index, health, catalog, calls, reset, switches and stream (no auth, never counted)."""
import json

from . import catalog, options
from .state import State, SwitchError
from .stream_state import StreamSwitchError
from .times import ny_date, rfc3339


def _catalog(state: State) -> dict:
    now = state.context().now
    today = ny_date(now)
    return {
        "now": rfc3339(now),
        "stocks": sorted(catalog.STOCKS),
        "special": dict(catalog.SPECIAL),
        "options": {underlying: list(contracts) for underlying, contracts in options.chains(today).items()},
        "option_special": options.special(today),
        "key": state.key,
        "secret": state.secret,
    }


def _switches(state: State, method: str, body: bytes) -> tuple[int, dict]:
    if method == "GET":
        return 200, state.switches()
    try:
        changes = json.loads(body or b"{}")
    except ValueError:
        return 400, {"message": "body must be a JSON object"}
    if not isinstance(changes, dict):
        return 400, {"message": "body must be a JSON object"}
    try:
        return 200, state.update_switches(changes)
    except SwitchError as error:
        return 400, {"message": str(error)}


def _stream(state: State, method: str, body: bytes) -> tuple[int, dict]:
    """The stream's switches and counters; a POST merges switch changes first."""
    if method == "POST":
        try:
            changes = json.loads(body or b"{}")
        except ValueError:
            changes = None
        if not isinstance(changes, dict):
            return 400, {"message": "body must be a JSON object"}
        try:
            state.stream.update(changes)
        except StreamSwitchError as error:
            return 400, {"message": str(error)}
    return 200, {"switches": state.stream.switches(), **state.stream.stats()}


def _clear_calls(state: State) -> dict:
    state.clear_calls()
    return {"ok": True}


def _reset(state: State) -> dict:
    state.reset()
    return {"ok": True}


def _index() -> dict:
    """What the banner's control URL answers: every control endpoint and its methods."""
    return {"endpoints": {path: sorted(methods) for path, methods in _ROUTES.items() if path != "/_sandbox/"}}


_ROUTES = {
    "/_sandbox/": {"GET": lambda state, body: (200, _index())},
    "/_sandbox/health": {"GET": lambda state, body: (200, {"ok": True, "stream_url": state.stream_url})},
    "/_sandbox/catalog": {"GET": lambda state, body: (200, _catalog(state))},
    "/_sandbox/calls": {"GET": lambda state, body: (200, state.calls()),
                        "DELETE": lambda state, body: (200, _clear_calls(state))},
    "/_sandbox/reset": {"POST": lambda state, body: (200, _reset(state))},
    "/_sandbox/stream": {
        "GET": lambda state, body: _stream(state, "GET", body),
        "POST": lambda state, body: _stream(state, "POST", body),
    },
    "/_sandbox/switches": {
        "GET": lambda state, body: _switches(state, "GET", body),
        "POST": lambda state, body: _switches(state, "POST", body),
    },
}


def handle(state: State, method: str, path: str, body: bytes) -> tuple[int, dict]:
    """Status and JSON body of one control request."""
    methods = _ROUTES.get(path)
    if methods is None:
        return 404, {"message": "Not Found"}
    if method not in methods:
        return 405, {"message": "Method Not Allowed"}
    return methods[method](state, body)
