"""Stock quotes and bars (CONTRACT §4, market data)."""

from __future__ import annotations

from flask import Blueprint, request

from opitios.access.limits import costs
from opitios.envelope import success_response
from opitios.routes import json_body, services, validated
from opitios.schemas.bars import BarsArgs
from opitios.schemas.quotes import StockBatchBodyArgs, StockBatchQueryArgs, StockQuoteBodyArgs, SymbolPathArgs

bp = Blueprint("stocks", __name__)

_path_args = SymbolPathArgs()
_body_args = StockQuoteBodyArgs()
_batch_body = StockBatchBodyArgs()
_batch_query = StockBatchQueryArgs()
_bars_args = BarsArgs()


@bp.get("/stocks/<path:symbol>/quote")
def quote(symbol: str):
    args = _path_args.load({"symbol": symbol})
    return success_response(services().stocks.quote(args["symbol"]))


@bp.post("/stocks/quote")
def quote_from_body():
    args = _body_args.load(json_body())
    return success_response(services().stocks.quote(args["symbol"]))


def _batch_from_body() -> dict:
    return validated(_batch_body, json_body)


def _batch_from_query() -> dict:
    return validated(_batch_query, lambda: request.args)


@bp.post("/stocks/quotes/batch")
@costs(lambda: len(_batch_from_body()["symbols"]))
def quotes_batch():
    args = _batch_from_body()
    return success_response(services().stocks.quotes(args["symbols"], args["max_age_seconds"]))


@bp.get("/stocks/quotes")
@costs(lambda: len(_batch_from_query()["symbols"]))
def quotes():
    args = _batch_from_query()
    return success_response(services().stocks.quotes(args["symbols"], args["max_age_seconds"]))


@bp.get("/stocks/<path:symbol>/bars")
def bars(symbol: str):
    args = _bars_args.load({**request.args.to_dict(), "symbol": symbol})
    return success_response(services().stocks.bars(args))
