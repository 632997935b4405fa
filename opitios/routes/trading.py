"""Trading (CONTRACT §4): account, positions, orders, and the original service's order routes; 'trade' scope."""

from __future__ import annotations

from collections.abc import Mapping

from flask import Blueprint, g, request

from opitios import openapi_examples as examples
from opitios.endpoints import TRADING
from opitios.errors import ApiError
from opitios.extensions import services
from opitios.request_id import current_request_id
from opitios.routes.declare import declare
from opitios.schemas.quotes import SymbolPathArgs
from opitios.schemas.trading import (
    CLIENT_ORDER_ID_FORMAT,
    CLIENT_ORDER_ID_RULE,
    AccountSchema,
    OptionOrderArgs,
    OrderArgs,
    OrderSchema,
    OrdersQueryArgs,
    OrdersSchema,
    PathOrderArgs,
    PositionsSchema,
    StockOrderArgs,
    order_id,
)

bp = Blueprint("trading", __name__)

ORDER_REF = {
    "name": "order_ref",
    "in": "path",
    "required": True,
    "description": "the broker's order id; anything but a UUID is 400 INVALID_PARAMETER, asked of nobody",
    "schema": {"type": "string", "format": "uuid"},
}
ORDER_RULES = (
    "Numbers are exact decimal strings (a JSON number is accepted too). `limit_price` is required for "
    "`limit`/`stop_limit` and refused otherwise, `stop_price` likewise for `stop`/`stop_limit` (the body's "
    "`oneOf` branches state it). Exactly one instrument: a stock `symbol`, or an OCC contract as `option_symbol` "
    "(or as `symbol` where the route takes options); option orders are for whole contracts, fractional share "
    "orders are `day` orders. A repeated "
    "`client_order_id` (or `Idempotency-Key` header) never places a second order: the existing one comes back "
    "with `metadata.idempotent_replay: true`. A broker that does not answer in time is 504 `UPSTREAM_TIMEOUT` "
    "with the `client_order_id` in `error.details`: look the order up before retrying."
)
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "mapped onto client_order_id; must equal it when both are sent",
    "schema": {"type": "string", "pattern": r"^[A-Za-z0-9._:-]{1,128}$"},
}
# The one rule between a header and the body; the routes' own schemas state the rest.
SAME_ORDER_ID = {"rule": "equal", "fields": ["Idempotency-Key", "client_order_id"], "error": "INVALID_REQUEST_BODY"}


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


def _with_idempotency_key(body: dict) -> dict:
    """An Idempotency-Key header becomes the order's client_order_id, which the body may only repeat."""
    key = _idempotency_key()
    if key is None:
        return body
    if body.get("client_order_id") not in (None, key):
        raise ApiError("INVALID_REQUEST_BODY", "Idempotency-Key and client_order_id differ; send one of them")
    return {**body, "client_order_id": key}


PLACED = examples.trading(examples.ORDER, idempotent_replay=False)
_PLACE = {"prepare": lambda body, path: _with_idempotency_key(body), "parameters": (IDEMPOTENCY_KEY,), "rules": (SAME_ORDER_ID,),
          "codes": ("INVALID_SYMBOL_FORMAT", "ORDER_REJECTED", "ORDER_NOT_FOUND"), "description": ORDER_RULES}


def _named_by_path(side: str) -> dict:
    """The facts of a route whose path names the symbol and whose route names the side; the body has the rest."""

    def prepare(body: dict, path: Mapping[str, str]) -> dict:
        if "symbol" in body or "side" in body:
            raise ApiError("INVALID_REQUEST_BODY", "The path names the symbol and the side; leave them out of the body")
        return _with_idempotency_key({**body, "symbol": path["symbol"], "side": side})

    return {**_PLACE, "args": SymbolPathArgs(), "body": PathOrderArgs(), "loads": StockOrderArgs(), "prepare": prepare}


def _place(order: dict):
    client = g.client.prefix if g.get("client") else "-"
    return services().trading.place(order, client, current_request_id())


@bp.get("/account")
@declare(TRADING, "The broker's account, as sent (money as strings)", AccountSchema,
         answer=examples.trading(examples.ACCOUNT))
def account():
    return services().trading.account()


@bp.get("/positions")
@declare(TRADING, "Open positions", PositionsSchema, answer=examples.trading(examples.POSITIONS))
def positions():
    return services().trading.positions()


@bp.get("/orders")
@declare(TRADING, "Orders, newest first", OrdersSchema, args=OrdersQueryArgs(), answer=examples.trading(examples.ORDERS))
def orders(args):
    return services().trading.orders(args["status"], args["limit"])


@bp.get("/orders/<order_ref>")
@declare(TRADING, "One order", OrderSchema, parameters=(ORDER_REF,), codes=("ORDER_NOT_FOUND",),
         answer=examples.trading(examples.ORDER))
def order(order_ref: str):
    return services().trading.order(order_id(order_ref))


@bp.delete("/orders/<order_ref>")
@declare(TRADING, "Cancel an order; answers with the order as the broker now has it", OrderSchema,
         parameters=(ORDER_REF,), codes=("ORDER_NOT_FOUND", "ORDER_REJECTED"),
         answer=examples.trading({**examples.ORDER, "status": "canceled", "canceled_at": "2026-11-25T10:23:37.074002Z"}))
def cancel(order_ref: str):
    return services().trading.cancel(order_id(order_ref))


@bp.post("/orders")
@declare(TRADING, "Place an order for a stock (symbol) or an OCC contract (option_symbol, or an OCC symbol)",
         OrderSchema, body=OrderArgs(), answer=PLACED, example_body=examples.ORDER_BODY, **_PLACE)
def place(order: dict):
    return _place(order)


@bp.post("/stocks/order")
@declare(TRADING, "Place a stock order (the original service's route)", OrderSchema, body=StockOrderArgs(),
         answer=PLACED, example_body=examples.ORDER_BODY, **_PLACE)
def place_stock(order: dict):
    return _place(order)


@bp.post("/options/order")
@declare(TRADING, "Place an option order, whole contracts only (the original service's route)", OrderSchema,
         body=OptionOrderArgs(), answer=examples.trading(examples.OPTION_ORDER, idempotent_replay=False),
         example_body=examples.OPTION_ORDER_BODY, **_PLACE)
def place_option(order: dict):
    return _place(order)


@bp.post("/stocks/<symbol>/buy")
@declare(TRADING, "Buy a stock: the path names symbol and side, the body the rest", OrderSchema, answer=PLACED,
         example_body={"qty": "2", "type": "limit", "limit_price": "185.50"}, **_named_by_path("buy"))
def buy(order: dict):
    return _place(order)


@bp.post("/stocks/<symbol>/sell")
@declare(TRADING, "Sell a stock: the path names symbol and side, the body the rest", OrderSchema,
         answer=examples.trading({**examples.ORDER, "side": "sell", "limit_price": "195.5"}, idempotent_replay=False),
         example_body={"qty": "2", "type": "limit", "limit_price": "195.50"}, **_named_by_path("sell"))
def sell(order: dict):
    return _place(order)
