"""WSGI application: the control API, and the API pipeline (count, auth, rate limit, faults, route, then delay)."""
import hmac
import json
import logging
import time

from werkzeug.wrappers import Request, Response

from . import control, option_routes, stock_routes, trading, trading_routes
from .errors import DATA, ApiError, error_body, family
from .handler import Call, Reply
from .state import RateWindow, State


def _get(handler) -> dict:
    """A GET-only route whose handler takes (args, ctx)."""
    return {"GET": lambda call: handler(call.args, call.ctx)}


# Path -> {method: handler(Call)}; a method not listed is 405.
_ROUTES = {
    "/v2/stocks/snapshots": _get(stock_routes.snapshots),
    "/v2/stocks/quotes/latest": _get(stock_routes.latest_quotes),
    "/v2/stocks/trades/latest": _get(stock_routes.latest_trades),
    "/v2/stocks/bars/latest": _get(stock_routes.latest_bars),
    "/v2/stocks/bars": _get(stock_routes.historical_bars),
    "/v1beta1/options/snapshots": _get(option_routes.snapshots),
    "/v1beta1/options/quotes/latest": _get(option_routes.latest_quotes),
    "/v1beta1/options/trades/latest": _get(option_routes.latest_trades),
    "/v2/clock": _get(trading.clock),
    "/v2/account": {"GET": trading.account},
    "/v2/positions": {"GET": trading_routes.all_positions},
    "/v2/orders": {"GET": trading_routes.list_orders, "POST": trading_routes.submit,
                   "DELETE": trading_routes.cancel_all},
    "/v2/orders:by_client_order_id": {"GET": trading_routes.by_client_order_id},
}
# Prefix -> routes whose last path segment is the handler's ``param``.
_PARAM_ROUTES = {
    "/v1beta1/options/snapshots/": {
        "GET": lambda call: option_routes.chain(call.args, call.ctx, underlying=call.param)},
    "/v2/positions/": {"GET": trading_routes.one_position},
    "/v2/orders/": {"GET": trading_routes.one_order, "DELETE": trading_routes.cancel_one},
}
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


def _route(path: str) -> tuple[dict, str] | None:
    """The methods served at ``path`` and the captured segment ("" for fixed paths)."""
    if path in _ROUTES:
        return _ROUTES[path], ""
    for prefix, methods in _PARAM_ROUTES.items():
        rest = path[len(prefix):] if path.startswith(prefix) else ""
        if rest and "/" not in rest:
            return methods, rest
    return None


def _logged_body(request: Request) -> dict:
    """A POST's body for the call log: its JSON, or its text when it is not JSON."""
    raw = request.get_data()
    try:
        return {"body": json.loads(raw)}
    except ValueError:
        return {"body": raw.decode("utf-8", "replace")}


class SandboxApp:
    """The WSGI callable served by ``python -m sandbox``."""

    def __init__(self, state: State):
        self.state = state

    def __call__(self, environ, start_response):
        request = Request(environ)
        if request.path.startswith(_CONTROL_PREFIX):
            response = _json(*control.handle(self.state, request.method, request.path, request.get_data()))
        else:
            extra = _logged_body(request) if request.method == "POST" else None
            entry = self.state.record(request.method, request.path, request.args.to_dict(), extra)
            response = self._answer(request)
            self.state.finish(entry, response.status_code)
        return response(environ, start_response)

    def _authorized(self, request: Request) -> bool:
        key = request.headers.get("APCA-API-KEY-ID", "").encode()
        secret = request.headers.get("APCA-API-SECRET-KEY", "").encode()
        return (hmac.compare_digest(key, self.state.key.encode())
                & hmac.compare_digest(secret, self.state.secret.encode()))

    def _answer(self, request: Request) -> Response:
        # The answer (fault, rate window, state change) is decided on arrival and only sent late: a
        # slow request must not spend switches set after it arrived (say, by the next test).
        delay = self.state.latency(request.path)
        response = self._decide(request)
        if delay:
            time.sleep(delay)
        return response

    def _decide(self, request: Request) -> Response:
        path = request.path
        api = family(path)
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
        route = _route(path)
        if route is None:
            return _json(404, error_body(DATA, 404), headers)
        methods, param = route
        handler = methods.get(request.method)
        if handler is None:
            return _json(405, error_body(api, 405), headers)
        call = Call(request.args, self.state.context(), request.get_data(), param, self.state.book)
        try:
            result = handler(call)
        except ApiError as error:
            return _json(error.status, error_body(api, error.status, error.message, error.code), headers)
        except Exception:  # a sandbox bug must still answer like a server, and be visible on stderr
            log.exception("handler failed for %s", request.full_path)
            return _json(500, error_body(api, 500), headers)
        if not isinstance(result, Reply):
            return _json(200, result, headers)
        if result.body is None:
            empty = Response(b"", status=result.status, headers=headers)
            del empty.headers["Content-Type"]
            return empty
        return _json(result.status, result.body, headers)
