"""Stock quotes and bars (CONTRACT §4, market data)."""

from __future__ import annotations

from flask import Blueprint

from opitios import openapi_examples as examples
from opitios.endpoints import MARKET
from opitios.extensions import services
from opitios.routes.declare import declare
from opitios.schemas.bars import BarsArgs, BarsSchema
from opitios.schemas.quotes import (
    StockBatchBodyArgs,
    StockBatchQueryArgs,
    StockBatchSchema,
    StockQuoteBodyArgs,
    StockQuoteSchema,
    SymbolPathArgs,
)

bp = Blueprint("stocks", __name__)

QUOTE_CODES = ("INVALID_SYMBOL_FORMAT", "SYMBOL_NOT_FOUND")
BATCH_CODES = ("INVALID_SYMBOL_FORMAT", "REQUEST_SIZE_EXCEEDED")
QUOTE = examples.market(examples.STOCK_QUOTE, "alpaca_real_time")
BATCH = examples.market(examples.STOCK_BATCH, "alpaca_real_time")


@bp.get("/stocks/<path:symbol>/quote")
@declare(MARKET, "A stock's latest quote and trade", StockQuoteSchema, args=SymbolPathArgs(), codes=QUOTE_CODES,
         answer=QUOTE)
def quote(args):
    return services().stocks.quote(args["symbol"])


@bp.post("/stocks/quote")
@declare(MARKET, "A stock's latest quote and trade (the original service's POST form)", StockQuoteSchema,
         body=StockQuoteBodyArgs(), codes=QUOTE_CODES, answer=QUOTE, example_body={"symbol": "AAPL"})
def quote_from_body(args):
    return services().stocks.quote(args["symbol"])


@bp.post("/stocks/quotes/batch")
@declare(MARKET, "Quotes of many stocks in one upstream call", StockBatchSchema, body=StockBatchBodyArgs(),
         batch="symbols", codes=BATCH_CODES, answer=BATCH, example_body={"symbols": ["AAPL", "ZZZZ", "XYZ"]},
         description="At most `limits.max_batch_symbols` (20 by default) distinct symbols; a batch of N costs N "
         "requests of the client's rate limit. An unknown symbol is an error entry in place.")
def quotes_batch(args):
    return services().stocks.quotes(args["symbols"], args["max_age_seconds"])


@bp.get("/stocks/quotes")
@declare(MARKET, "Quotes of many stocks (GET form, cacheable by intermediaries)", StockBatchSchema,
         args=StockBatchQueryArgs(), batch="symbols", codes=BATCH_CODES, answer=BATCH)
def quotes(args):
    return services().stocks.quotes(args["symbols"], args["max_age_seconds"])


@bp.get("/stocks/<path:symbol>/bars")
@declare(MARKET, "A page of a stock's bars", BarsSchema, args=BarsArgs(),
         codes=("INVALID_SYMBOL_FORMAT", "INVALID_DATE_RANGE", "HISTORICAL_DATA_UNAVAILABLE"),
         answer=examples.market(examples.BARS, "alpaca_historical"),
         description="Without `start`, the most recent `limit` bars, oldest first. Pass `page_token` back for the next page.")
def bars(args):
    return services().stocks.bars(args)
