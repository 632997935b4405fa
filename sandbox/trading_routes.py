"""Handlers for positions and orders under /v2 (order placement itself is order_entry's and the book's)."""
import re

from . import order_entry, positions, trading
from .book import OPEN
from .errors import INVALID_ORDER, ApiError
from .handler import Call, Reply
from .times import parse_query_time

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
MAX_LIMIT = 500
DEFAULT_LIMIT = 50


def _refuse(message: str):
    raise ApiError(422, message, INVALID_ORDER)


def all_positions(call: Call) -> list:
    return [positions.body(v) for v in call.book.positions(call.ctx.now)]


def one_position(call: Call) -> dict:
    """By symbol or asset id."""
    for v in call.book.positions(call.ctx.now):
        if call.param in (v.asset.symbol, v.asset.id):
            return positions.body(v)
    raise ApiError(404, "position does not exist")


def _choice(args, name: str, allowed: tuple[str, ...], default: str | None) -> str | None:
    value = args.get(name, default)
    if value is not None and value not in allowed:
        _refuse(f"invalid {name}")
    return value


def _instant(args, name: str):
    value = args.get(name)
    if value is None:
        return None
    moment = parse_query_time(value)
    if moment is None:
        _refuse(f"invalid {name}")
    return moment


def list_orders(call: Call) -> list:
    """Filters like Alpaca: status (open|closed|all), after/until (submitted_at, exclusive), side,
    symbols; direction desc by default; limit 50 by default, at most 500."""
    args = call.args
    status = _choice(args, "status", ("open", "closed", "all"), "open")
    direction = _choice(args, "direction", ("asc", "desc"), "desc")
    side = _choice(args, "side", ("buy", "sell"), None)
    _choice(args, "nested", ("true", "false", "True", "False"), None)  # no multi-leg orders to nest
    raw_limit = args.get("limit", str(DEFAULT_LIMIT))
    if not re.fullmatch(r"\d{1,9}", raw_limit) or int(raw_limit) < 1:
        _refuse("invalid limit")
    after, until = _instant(args, "after"), _instant(args, "until")
    symbols = {name for name in args.get("symbols", "").split(",") if name}

    def keep(order) -> bool:
        return ((status == "all" or (order.status in OPEN) == (status == "open"))
                and (side is None or order.side == side)
                and (not symbols or order.asset.symbol in symbols)
                and (after is None or order.submitted_at > after)
                and (until is None or order.submitted_at < until))

    found = call.book.orders(call.ctx.now, keep)
    if direction == "desc":
        found.reverse()
    return found[:min(int(raw_limit), MAX_LIMIT)]


def submit(call: Call) -> dict:
    ticket = order_entry.ticket(order_entry.parse_body(call.body), call.ctx.now)
    return call.book.submit(ticket, call.ctx.now, trading.market_open(call.ctx))


def _order_id(call: Call) -> str:
    if not _UUID.fullmatch(call.param):
        _refuse("invalid order id")
    return call.param.lower()


def one_order(call: Call) -> dict:
    return call.book.order(call.ctx.now, order_id=_order_id(call))


def by_client_order_id(call: Call) -> dict:
    client_order_id = call.args.get("client_order_id")
    if not client_order_id:
        _refuse("client_order_id is required")
    return call.book.order(call.ctx.now, client_order_id=client_order_id)


def cancel_one(call: Call) -> Reply:
    """204 with an empty body."""
    call.book.cancel(call.ctx.now, _order_id(call))
    return Reply(204)


def cancel_all(call: Call) -> Reply:
    """207 with one entry per canceled order."""
    canceled = call.book.cancel_all(call.ctx.now)
    return Reply(207, [{"id": order_id, "status": 200, "body": None} for order_id in canceled])
