"""WSGI application: the control API, and the API pipeline (count, delay, auth, rate limit, faults, route)."""
import functools
import hmac
import json
import logging
import time

from werkzeug.wrappers import Request, Response

from . import control, option_routes, stock_routes, trading
from .errors import DATA, ApiError, error_body, family
from .state import RateWindow, State

_ROUTES = {
    "/v2/stocks/snapshots": stock_routes.snapshots,
    "/v2/stocks/quotes/latest": stock_routes.latest_quotes,
    "/v2/stocks/trades/latest": stock_routes.latest_trades,
    "/v2/stocks/bars/latest": stock_routes.latest_bars,
    "/v2/stocks/bars": stock_routes.historical_bars,
    "/v1beta1/options/snapshots": option_routes.snapshots,
    "/v1beta1/options/quotes/latest": option_routes.latest_quotes,
    "/v1beta1/options/trades/latest": option_routes.latest_trades,
    "/v2/clock": trading.clock,
    "/v2/account": trading.account,
}
_CHAIN_PREFIX = "/v1beta1/options/snapshots/"
_CONTROL_PREFIX = "/_sandbox/"
# What a connection cut mid-body looks like: valid UTF-8, invalid JSON.
_NOT_JSON = b'{"quotes":{"AAPL":{"t":"2024-06-03T18:59:59.912345678Z","ap":192.'
_JSON_TYPE = "application/json; charset=UTF-8"

log = logging.getLogger("sandbox")


def _json(status: int, body, headers: dict | None = None) -> Response:
    return Response(json.dumps(body, separators=(",", ":")), status=status, headers=headers,
                    content_type=_JSON_TYPE)


def _rate_headers(window: RateWindow, exhausted: bool = False) -> dict:
    return {
        "X-RateLimit-Limit": str(window.limit),
        "X-RateLimit-Remaining": "0" if exhausted else str(window.remaining),
        "X-RateLimit-Reset": str(window.reset),
    }


def _route(path: str):
    if path in _ROUTES:
        return _ROUTES[path]
    underlying = path[len(_CHAIN_PREFIX):] if path.startswith(_CHAIN_PREFIX) else ""
    if underlying and "/" not in underlying:
        return functools.partial(option_routes.chain, underlying=underlying)
    return None


class SandboxApp:
    """The WSGI callable served by ``python -m sandbox``."""

    def __init__(self, state: State):
        self.state = state

    def __call__(self, environ, start_response):
        request = Request(environ)
        if request.path.startswith(_CONTROL_PREFIX):
            response = _json(*control.handle(self.state, request.method, request.path, request.get_data()))
        else:
            entry = self.state.record(request.method, request.path, request.args.to_dict())
            response = self._answer(request)
            self.state.finish(entry, response.status_code)
        return response(environ, start_response)

    def _authorized(self, request: Request) -> bool:
        key = request.headers.get("APCA-API-KEY-ID", "").encode()
        secret = request.headers.get("APCA-API-SECRET-KEY", "").encode()
        return (hmac.compare_digest(key, self.state.key.encode())
                & hmac.compare_digest(secret, self.state.secret.encode()))

    def _answer(self, request: Request) -> Response:
        path = request.path
        api = family(path)
        delay = self.state.latency(path)
        if delay:
            time.sleep(delay)
        if not self._authorized(request):
            return _json(401, error_body(api, 401), _rate_headers(self.state.peek_rate()))
        window = self.state.take_rate()
        if not window.allowed:
            return _json(429, error_body(api, 429), _rate_headers(window, exhausted=True))
        headers = _rate_headers(window)
        fault = self.state.take_fault(path)
        if fault is not None and fault.status is not None:
            exhausted = fault.status == 429
            return _json(fault.status, error_body(api, fault.status), _rate_headers(window, exhausted))
        if fault is not None:
            return Response(_NOT_JSON, status=200, headers=headers, content_type=_JSON_TYPE)
        handler = _route(path)
        if handler is None:
            return _json(404, error_body(DATA, 404), headers)
        if request.method != "GET":
            return _json(405, error_body(api, 405), headers)
        try:
            return _json(200, handler(request.args, self.state.context()), headers)
        except ApiError as error:
            return _json(error.status, error_body(api, error.status, error.message), headers)
        except Exception:  # a sandbox bug must still answer like a server, and be visible on stderr
            log.exception("handler failed for %s", request.full_path)
            return _json(500, error_body(api, 500), headers)
