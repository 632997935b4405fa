"""What each endpoint takes, answers and fails with, for the OpenAPI description (opitios/openapi.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from marshmallow import Schema

from opitios.schemas.bars import BarsArgs, BarsSchema
from opitios.schemas.ops import HealthSchema, ReadySchema
from opitios.schemas.options import (
    ChainBodyArgs,
    ChainQueryArgs,
    ChainSchema,
    OptionBatchBodyArgs,
    OptionBatchSchema,
    OptionPathArgs,
    OptionQuoteBodyArgs,
    OptionQuoteSchema,
)
from opitios.schemas.quotes import (
    StockBatchBodyArgs,
    StockBatchQueryArgs,
    StockBatchSchema,
    StockQuoteBodyArgs,
    StockQuoteSchema,
    SymbolPathArgs,
)
from opitios.schemas.trading import (
    AccountSchema,
    OptionOrderArgs,
    OrderArgs,
    OrderSchema,
    OrdersQueryArgs,
    OrdersSchema,
    PositionsSchema,
    StockOrderArgs,
)

# Kinds of route: who may call it and what its answers carry.
MARKET, TRADING, OPERATIONS, DOCUMENT = "market data", "trading", "operations", "documents"

ORDER_REF = {
    "name": "order_ref",
    "in": "path",
    "required": True,
    "description": "the broker's order id; anything but a UUID is 400 INVALID_PARAMETER, asked of nobody",
    "schema": {"type": "string", "format": "uuid"},
}
ORDER_CODES = ("INVALID_SYMBOL_FORMAT", "ORDER_REJECTED", "ORDER_NOT_FOUND")
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


@dataclass(frozen=True)
class Operation:
    summary: str
    kind: str
    data: type[Schema] | None = None  # the success envelope's ``data``
    args: Schema | type[Schema] | None = None  # path and query parameters, from the route's own *Args schema
    path_fields: Mapping[str, str] = field(default_factory=dict)  # rule variable → args field, where they differ
    parameters: tuple[dict, ...] = ()  # parameters no schema describes
    body: Schema | type[Schema] | None = None
    codes: tuple[str, ...] = ()  # error codes of this route beyond those of its kind
    rules: tuple[dict, ...] = ()  # cross-field rules beyond those its schemas declare (x-cross-field-rules)
    description: str = ""
    media_type: str = "application/json"  # of a document's answer


_ORDER_BODY_FOR_PATH = StockOrderArgs(exclude=("symbol", "option_symbol", "side"))
_QUOTE = ("INVALID_SYMBOL_FORMAT", "SYMBOL_NOT_FOUND")
_OPTION_QUOTE = ("INVALID_SYMBOL_FORMAT", "OPTION_CONTRACT_NOT_FOUND")
_BATCH = ("INVALID_SYMBOL_FORMAT", "REQUEST_SIZE_EXCEEDED")
_CHAIN = ("INVALID_SYMBOL_FORMAT", "INVALID_DATE_RANGE", "OPTIONS_CHAIN_UNAVAILABLE")
_PLACE = {"parameters": (IDEMPOTENCY_KEY,), "codes": ORDER_CODES, "description": ORDER_RULES, "rules": (SAME_ORDER_ID,)}
_BY_PATH = {"args": SymbolPathArgs, "body": _ORDER_BODY_FOR_PATH, **_PLACE}

OPERATIONS: dict[str, Operation] = {
    "stocks.quote": Operation("A stock's latest quote and trade", MARKET, StockQuoteSchema, SymbolPathArgs, codes=_QUOTE),
    "stocks.quote_from_body": Operation(
        "A stock's latest quote and trade (the original service's POST form)", MARKET, StockQuoteSchema,
        body=StockQuoteBodyArgs, codes=_QUOTE,
    ),
    "stocks.quotes_batch": Operation(
        "Quotes of many stocks in one upstream call", MARKET, StockBatchSchema, body=StockBatchBodyArgs, codes=_BATCH,
        description="At most `limits.max_batch_symbols` (20 by default) distinct symbols; a batch of N costs N "
        "requests of the client's rate limit. An unknown symbol is an error entry in place.",
    ),
    "stocks.quotes": Operation(
        "Quotes of many stocks (GET form, cacheable by intermediaries)", MARKET, StockBatchSchema, StockBatchQueryArgs,
        codes=_BATCH,
    ),
    "stocks.bars": Operation(
        "A page of a stock's bars", MARKET, BarsSchema, BarsArgs,
        codes=("INVALID_SYMBOL_FORMAT", "INVALID_DATE_RANGE", "HISTORICAL_DATA_UNAVAILABLE"),
        description="Without `start`, the most recent `limit` bars, oldest first. Pass `page_token` back for the next page.",
    ),
    "options.quote": Operation(
        "An option contract's latest quote, trade, IV and greeks", MARKET, OptionQuoteSchema, OptionPathArgs,
        codes=_OPTION_QUOTE,
    ),
    "options.quote_from_body": Operation(
        "An option contract's quote (POST form)", MARKET, OptionQuoteSchema, body=OptionQuoteBodyArgs, codes=_OPTION_QUOTE,
    ),
    "options.quotes_batch": Operation(
        "Quotes of many option contracts in one upstream call", MARKET, OptionBatchSchema, body=OptionBatchBodyArgs,
        codes=_BATCH,
    ),
    "options.chain": Operation(
        "A page of an underlying's option chain", MARKET, ChainSchema, ChainQueryArgs,
        path_fields={"underlying": "underlying_symbol"}, codes=_CHAIN,
        description="Every filter goes to the upstream; nothing is filtered after a download.",
    ),
    "options.chain_from_body": Operation(
        "A page of an option chain (POST form)", MARKET, ChainSchema, body=ChainBodyArgs, codes=_CHAIN,
    ),
    "trading.account": Operation("The broker's account, as sent (money as strings)", TRADING, AccountSchema),
    "trading.positions": Operation("Open positions", TRADING, PositionsSchema),
    "trading.orders": Operation("Orders, newest first", TRADING, OrdersSchema, OrdersQueryArgs),
    "trading.order": Operation("One order", TRADING, OrderSchema, parameters=(ORDER_REF,), codes=("ORDER_NOT_FOUND",)),
    "trading.cancel": Operation(
        "Cancel an order; answers with the order as the broker now has it", TRADING, OrderSchema,
        parameters=(ORDER_REF,), codes=("ORDER_NOT_FOUND", "ORDER_REJECTED"),
    ),
    "trading.place": Operation(
        "Place an order for a stock (symbol) or an OCC contract (option_symbol, or an OCC symbol)", TRADING,
        OrderSchema, body=OrderArgs, **_PLACE,
    ),
    "trading.place_stock": Operation(
        "Place a stock order (the original service's route)", TRADING, OrderSchema, body=StockOrderArgs, **_PLACE,
    ),
    "trading.place_option": Operation(
        "Place an option order, whole contracts only (the original service's route)", TRADING, OrderSchema,
        body=OptionOrderArgs, **_PLACE,
    ),
    "trading.buy": Operation(
        "Buy a stock: the path names symbol and side, the body the rest", TRADING, OrderSchema, **_BY_PATH,
    ),
    "trading.sell": Operation(
        "Sell a stock: the path names symbol and side, the body the rest", TRADING, OrderSchema, **_BY_PATH,
    ),
    "ops.health": Operation("Liveness: no I/O, no upstream call", OPERATIONS, HealthSchema),
    "ops.ready": Operation(
        "Readiness: upstream credentials and the database; cache, circuit and configuration either way", OPERATIONS,
        ReadySchema, codes=("SERVICE_NOT_READY",),
        description="503 `SERVICE_NOT_READY` names the failing checks and carries this same report in `error.details`.",
    ),
    "metrics": Operation(
        "Prometheus metrics, all workers added up", DOCUMENT, media_type="text/plain",
        description="Open like health: bind it to an internal interface or protect it at the proxy.",
    ),
    "docs.openapi": Operation("This OpenAPI description", DOCUMENT),
    "docs.page": Operation(
        "The API documentation page (served with its assets, no internet needed)", DOCUMENT, media_type="text/html",
    ),
}
