"""Option quotes and chains (CONTRACT §4, market data)."""

from __future__ import annotations

from flask import Blueprint, request

from opitios.access.limits import costs
from opitios.envelope import success_response
from opitios.routes import json_body, services, validated
from opitios.schemas.options import (
    ChainBodyArgs,
    ChainQueryArgs,
    OptionBatchBodyArgs,
    OptionPathArgs,
    OptionQuoteBodyArgs,
)

bp = Blueprint("options", __name__)

_path_args = OptionPathArgs()
_body_args = OptionQuoteBodyArgs()
_batch_body = OptionBatchBodyArgs()
_chain_query = ChainQueryArgs()
_chain_body = ChainBodyArgs()


@bp.get("/options/<path:option_symbol>/quote")
def quote(option_symbol: str):
    args = _path_args.load({"option_symbol": option_symbol})
    return success_response(services().options.quote(args["option_symbol"]))


@bp.post("/options/quote")
def quote_from_body():
    args = _body_args.load(json_body())
    return success_response(services().options.quote(args["option_symbol"]))


def _batch_from_body() -> dict:
    return validated(_batch_body, json_body)


@bp.post("/options/quotes/batch")
@costs(lambda: len(_batch_from_body()["option_symbols"]))
def quotes_batch():
    args = _batch_from_body()
    return success_response(services().options.quotes(args["option_symbols"]))


@bp.get("/options/<path:underlying>/chain")
def chain(underlying: str):
    args = _chain_query.load({**request.args.to_dict(), "underlying_symbol": underlying})
    return success_response(services().options.chain(args))


@bp.post("/options/chain")
def chain_from_body():
    args = _chain_body.load(json_body())
    return success_response(services().options.chain(args))
