"""Reading a POST /v2/orders body into a Ticket, with Alpaca's 422 answers (code 40010001)."""
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from . import assets, money
from .errors import INVALID_ORDER, ApiError

SIDES = ("buy", "sell")
TYPES = ("market", "limit", "stop", "stop_limit")
TIME_IN_FORCE = ("day", "gtc", "opg", "cls", "ioc", "fok")
INTENTS = ("buy_to_open", "buy_to_close", "sell_to_open", "sell_to_close")
_UNSUPPORTED_CLASSES = ("bracket", "oco", "oto", "mleg")
MAX_CLIENT_ID = 128


@dataclass(frozen=True)
class Ticket:
    """A well-formed order request for a tradable asset; exactly one of qty and notional is set."""

    asset: assets.Asset
    qty: Decimal | None
    notional: Decimal | None
    side: str
    type: str
    time_in_force: str
    limit_price: Decimal | None
    stop_price: Decimal | None
    client_order_id: str
    extended_hours: bool
    position_intent: str | None


def _refuse(message: str):
    raise ApiError(422, message, INVALID_ORDER)


def _amount(body: dict, name: str) -> Decimal | None:
    """An optional positive decimal field, sent as a JSON number or a numeric string."""
    raw = body.get(name)
    if raw is None:
        return None
    number = money.parse(raw)
    if number is None:
        _refuse(f"invalid {name}")
    if number <= 0:
        _refuse(f"{name} must be > 0")
    return number


def _choice(body: dict, name: str, allowed: tuple[str, ...], message: str) -> str:
    value = body.get(name)
    if value not in allowed:
        _refuse(message)
    return value


def _client_order_id(body: dict) -> str:
    value = body.get("client_order_id")
    if value is None or value == "":
        return str(uuid.uuid4())
    if not isinstance(value, str):
        _refuse("invalid client_order_id")
    if len(value) > MAX_CLIENT_ID:
        _refuse(f"client_order_id must be no more than {MAX_CLIENT_ID} characters")
    return value


def parse_body(raw: bytes) -> dict:
    """The JSON object of the request; 400 (40010000) when it is not one."""
    try:
        body = json.loads(raw or b"null")
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ApiError(400, "request body format is invalid")
    return body


def ticket(body: dict, now: datetime) -> Ticket:
    """Validate the fields in Alpaca's order: quantity, side, type, time in force, prices, ids, asset.

    Checks that need the book (duplicate client_order_id, market hours, buying power) are the book's.
    Rules the sandbox adds are marked "(sandbox wording)"; it has no bracket, oco, oto, mleg or
    trailing_stop orders.
    """
    symbol = body.get("symbol")
    if not isinstance(symbol, str) or not symbol:
        _refuse("symbol is required")
    qty, notional = _amount(body, "qty"), _amount(body, "notional")
    if qty is None and notional is None:
        _refuse("qty or notional is required")
    if qty is not None and notional is not None:
        _refuse("only one of qty or notional may be given")
    side = _choice(body, "side", SIDES, "invalid side")
    kind = _choice(body, "type", TYPES, "invalid order type")
    tif = _choice(body, "time_in_force", TIME_IN_FORCE, "invalid time_in_force")
    limit_price, stop_price = _amount(body, "limit_price"), _amount(body, "stop_price")
    if kind in ("limit", "stop_limit") and limit_price is None:
        _refuse("limit_price is required for limit orders")
    if kind in ("stop", "stop_limit") and stop_price is None:
        _refuse("stop_price is required for stop orders")
    extended = body.get("extended_hours", False)
    if extended is None:
        extended = False
    if not isinstance(extended, bool):
        _refuse("invalid extended_hours")
    if extended and (kind != "limit" or tif != "day"):
        _refuse("extended hours order must be DAY limit orders")
    order_class = body.get("order_class") or "simple"
    if order_class in _UNSUPPORTED_CLASSES:
        _refuse(f"order_class {order_class} is not supported by the sandbox")
    if order_class != "simple":
        _refuse("invalid order_class")
    intent = body.get("position_intent")
    if intent is not None and intent not in INTENTS:
        _refuse("invalid position_intent")
    client_order_id = _client_order_id(body)

    asset = assets.tradable(symbol, now)
    if asset is None:
        _refuse(f'asset "{symbol}" not found')
    fractional = qty is not None and qty != qty.to_integral_value()
    if asset.is_option:
        if fractional:
            _refuse("qty must be integer for options")
        if notional is not None:
            _refuse("notional orders are not supported for options (sandbox wording)")
    elif (fractional or notional is not None) and tif != "day":
        _refuse("fractional orders must be DAY orders")
    if notional is not None and kind != "market":
        _refuse("notional orders must be market orders (sandbox wording)")
    return Ticket(asset, qty, notional, side, kind, tif,
                  limit_price if kind in ("limit", "stop_limit") else None,
                  stop_price if kind in ("stop", "stop_limit") else None,
                  client_order_id, extended, intent)
