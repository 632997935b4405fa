"""Trading (CONTRACT §4): account, positions, orders, and the original service's order routes; 'trade' scope."""

from __future__ import annotations

from flask import Blueprint, g, request

from opitios.envelope import success_response
from opitios.errors import ApiError
from opitios.request_id import current_request_id
from opitios.routes import json_body, services
from opitios.schemas.trading import (
    CLIENT_ORDER_ID_FORMAT,
    CLIENT_ORDER_ID_RULE,
    OptionOrderArgs,
    OrderArgs,
    OrdersQueryArgs,
    StockOrderArgs,
    order_id,
)

bp = Blueprint("trading", __name__)

_any_order = OrderArgs()
_stock_order = StockOrderArgs()
_option_order = OptionOrderArgs()
_orders_query = OrdersQueryArgs()


def _trading():
    return services().trading


def _idempotency_key() -> str | None:
    """The Idempotency-Key header, or ``None`` without one; sent, it must be a valid client_order_id.

    An empty or malformed key is refused rather than ignored: a client that sends one means
    "place this at most once", and ignoring it would place every retry.
    """
    if "Idempotency-Key" not in request.headers:
        return None
    key = request.headers["Idempotency-Key"].strip()  # surrounding whitespace is not part of a header value
    if not CLIENT_ORDER_ID_FORMAT.fullmatch(key):
        raise ApiError(
            "INVALID_PARAMETER",
            f"Idempotency-Key must be {CLIENT_ORDER_ID_RULE} (it becomes the order's client_order_id); nothing was placed",
            details={"header": "Idempotency-Key"},
        )
    return key


def _place(schema: OrderArgs, body: dict):
    """Validate, map an Idempotency-Key header onto client_order_id, place once."""
    key = _idempotency_key()
    if key is not None:
        if body.get("client_order_id") not in (None, key):
            raise ApiError("INVALID_REQUEST_BODY", "Idempotency-Key and client_order_id differ; send one of them")
        body = {**body, "client_order_id": key}
    order = schema.load(body)
    client = g.client.prefix if g.get("client") else "-"
    return success_response(_trading().place(order, client, current_request_id()))


@bp.get("/account")
def account():
    return success_response(_trading().account())


@bp.get("/positions")
def positions():
    return success_response(_trading().positions())


@bp.get("/orders")
def orders():
    args = _orders_query.load(request.args)
    return success_response(_trading().orders(args["status"], args["limit"]))


@bp.get("/orders/<order_ref>")
def order(order_ref: str):
    return success_response(_trading().order(order_id(order_ref)))


@bp.delete("/orders/<order_ref>")
def cancel(order_ref: str):
    return success_response(_trading().cancel(order_id(order_ref)))


@bp.post("/orders")
def place():
    return _place(_any_order, json_body())


@bp.post("/stocks/order")
def place_stock():
    return _place(_stock_order, json_body())


@bp.post("/options/order")
def place_option():
    return _place(_option_order, json_body())


@bp.post("/stocks/<symbol>/buy")
def buy(symbol: str):
    return _place(_stock_order, _with_path(json_body(), symbol, "buy"))


@bp.post("/stocks/<symbol>/sell")
def sell(symbol: str):
    return _place(_stock_order, _with_path(json_body(), symbol, "sell"))


def _with_path(body: dict, symbol: str, side: str) -> dict:
    if "symbol" in body or "side" in body:
        raise ApiError("INVALID_REQUEST_BODY", "The path names the symbol and the side; leave them out of the body")
    return {**body, "symbol": symbol, "side": side}
