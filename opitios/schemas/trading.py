"""Trading: order bodies (every number an exact decimal string), order queries, order ids, and the broker's objects."""

from __future__ import annotations

import re
import uuid
from decimal import Decimal

from marshmallow import INCLUDE, Schema, fields, post_load, validate, validates_schema

from opitios import symbols
from opitios.api_errors import ApiError
from opitios.schemas.common import BodyArgs, PositiveDecimal, QueryArgs, WholeNumber, invalid_symbols, upstream_text

ORDER_TYPES = ("market", "limit", "stop", "stop_limit")
TIME_IN_FORCE = ("day", "gtc", "opg", "cls", "ioc", "fok")
NEEDS_LIMIT = ("limit", "stop_limit")
NEEDS_STOP = ("stop", "stop_limit")
# Alpaca takes up to 128 characters; these characters pass every hop (header, JSON, URL) unchanged.
CLIENT_ORDER_ID_FORMAT = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
CLIENT_ORDER_ID_RULE = "1-128 of A-Z a-z 0-9 . _ : -"
CLIENT_ORDER_ID = validate.Regexp(CLIENT_ORDER_ID_FORMAT, error=f"Must be {CLIENT_ORDER_ID_RULE}")


def _bad(message: str, **details) -> ApiError:
    return ApiError("INVALID_REQUEST_BODY", message, details=details)


class OrderArgs(BodyArgs):
    """An order for a stock (``symbol``) or an OCC contract (``option_symbol``, or an OCC ``symbol``).

    ``kind`` narrows what the symbol may be: ``any`` here, ``stock`` or ``option`` in the subclasses.
    """

    kind = "any"
    symbol = fields.String(load_default=None)
    option_symbol = fields.String(load_default=None)
    qty = PositiveDecimal(required=True)
    side = fields.String(required=True, validate=validate.OneOf(["buy", "sell"]))
    type = fields.String(load_default="market", validate=validate.OneOf(ORDER_TYPES))
    time_in_force = fields.String(load_default="day", validate=validate.OneOf(TIME_IN_FORCE))
    limit_price = PositiveDecimal(load_default=None)
    stop_price = PositiveDecimal(load_default=None)
    client_order_id = fields.String(load_default=None, validate=CLIENT_ORDER_ID)

    @validates_schema
    def _rules(self, data, **kwargs):
        order_type = data.get("type", "market")
        for price, needed_by in (("limit_price", NEEDS_LIMIT), ("stop_price", NEEDS_STOP)):
            if order_type in needed_by and data.get(price) is None:
                raise _bad(f"A {order_type} order needs {price}", field=price)
            if order_type not in needed_by and data.get(price) is not None:
                raise _bad(f"A {order_type} order takes no {price}", field=price)

    @post_load
    def _order(self, data, **kwargs) -> dict:
        symbol, asset_class = self._instrument(data.pop("symbol"), data.pop("option_symbol"))
        qty = Decimal(data["qty"])
        if asset_class == "us_option" and qty != qty.to_integral_value():
            raise _bad("Option orders are for whole contracts", field="qty")
        if asset_class == "us_equity" and qty != qty.to_integral_value() and data["time_in_force"] != "day":
            raise _bad("Fractional share orders must be time_in_force day", field="qty")
        return {**data, "symbol": symbol, "asset_class": asset_class}

    def _instrument(self, symbol, option_symbol) -> tuple[str, str]:
        if (symbol is None) == (option_symbol is None):
            raise _bad("Send exactly one of symbol and option_symbol")
        if option_symbol is not None or self.kind == "option":
            occ = symbols.option_symbol(option_symbol if option_symbol is not None else symbol)
            if occ is None or self.kind == "stock":
                raise invalid_symbols([option_symbol or symbol], "option")
            return occ, "us_option"
        stock = symbols.stock_symbol(symbol)
        if stock is not None:
            return stock, "us_equity"
        occ = symbols.option_symbol(symbol) if self.kind == "any" else None
        if occ is None:
            raise invalid_symbols([symbol], "stock" if self.kind == "stock" else "stock or option")
        return occ, "us_option"


class StockOrderArgs(OrderArgs):
    """An order for a stock: ``symbol`` only."""

    kind = "stock"


class PathOrderArgs(StockOrderArgs):
    """A stock order whose path names the symbol and whose route names the side: the body holds the rest."""

    class Meta(BodyArgs.Meta):
        exclude = ("symbol", "option_symbol", "side")


class OptionOrderArgs(OrderArgs):
    """An order for an OCC contract, named by ``option_symbol`` or ``symbol``; whole contracts only."""

    kind = "option"


class OrdersQueryArgs(QueryArgs):
    status = fields.String(load_default="open", validate=validate.OneOf(["open", "closed", "all"]))
    limit = WholeNumber(load_default=50, validate=validate.Range(min=1, max=500))


def order_id(text: str) -> str:
    """A broker order id (a UUID), canonical; INVALID_PARAMETER otherwise, asked of nobody."""
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise ApiError("INVALID_PARAMETER", f"Not an order id: {text!r} (order ids are UUIDs)", details={"order_id": text}) from None


class _AsSent(Schema):
    """A broker object passed through as sent: the fields named here, and whatever else the broker adds."""

    class Meta:
        unknown = INCLUDE


def _money(**metadata) -> fields.String:
    """A broker figure: an exact decimal string, or null."""
    return upstream_text(description="an exact decimal string", **metadata)


class AccountSchema(_AsSent):
    id = fields.String(required=True)
    account_number = upstream_text()
    status = upstream_text()
    currency = upstream_text()
    cash = _money()
    buying_power = _money()
    equity = _money()
    portfolio_value = _money()


class PositionSchema(_AsSent):
    symbol = fields.String(required=True)
    asset_class = upstream_text()
    side = upstream_text()
    qty = _money()
    avg_entry_price = _money()
    market_value = _money()
    cost_basis = _money()
    unrealized_pl = _money()
    current_price = _money()


class OrderSchema(_AsSent):
    id = fields.String(required=True)
    client_order_id = upstream_text()
    symbol = upstream_text()
    asset_class = upstream_text()
    qty = _money()
    filled_qty = _money()
    filled_avg_price = _money()
    type = upstream_text()
    side = upstream_text()
    time_in_force = upstream_text()
    limit_price = _money()
    stop_price = _money()
    status = upstream_text()
    created_at = upstream_text()
    updated_at = upstream_text()
    canceled_at = upstream_text()


class PositionsSchema(Schema):
    positions = fields.List(fields.Nested(PositionSchema), required=True)
    count = fields.Integer(required=True)


class OrdersSchema(Schema):
    orders = fields.List(fields.Nested(OrderSchema), required=True, metadata={"description": "newest first"})
    count = fields.Integer(required=True)
    status = fields.String(required=True, validate=validate.OneOf(["open", "closed", "all"]))
