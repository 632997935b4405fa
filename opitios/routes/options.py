"""Option quotes and chains (CONTRACT §4, market data)."""

from __future__ import annotations

from flask import Blueprint

from opitios import openapi_examples as examples
from opitios.endpoints import MARKET
from opitios.extensions import services
from opitios.routes.declare import declare
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

bp = Blueprint("options", __name__)

QUOTE_CODES = ("INVALID_SYMBOL_FORMAT", "OPTION_CONTRACT_NOT_FOUND")
CHAIN_CODES = ("INVALID_SYMBOL_FORMAT", "INVALID_DATE_RANGE", "OPTIONS_CHAIN_UNAVAILABLE")
QUOTE = examples.market(examples.OPTION_QUOTE, "alpaca_options_real_time", "indicative")
CHAIN = examples.market(examples.CHAIN, "alpaca_options_chain", "indicative")


@bp.get("/options/<path:option_symbol>/quote")
@declare(MARKET, "An option contract's latest quote, trade, IV and greeks", OptionQuoteSchema, args=OptionPathArgs(),
         codes=QUOTE_CODES, answer=QUOTE)
def quote(args):
    return services().options.quote(args["option_symbol"])


@bp.post("/options/quote")
@declare(MARKET, "An option contract's quote (POST form)", OptionQuoteSchema, body=OptionQuoteBodyArgs(),
         codes=QUOTE_CODES, answer=QUOTE, example_body={"option_symbol": "AAPL261127C00190000"})
def quote_from_body(args):
    return services().options.quote(args["option_symbol"])


@bp.post("/options/quotes/batch")
@declare(MARKET, "Quotes of many option contracts in one upstream call", OptionBatchSchema,
         body=OptionBatchBodyArgs(), batch="option_symbols", codes=("INVALID_SYMBOL_FORMAT", "REQUEST_SIZE_EXCEEDED"),
         answer=examples.market(examples.OPTION_BATCH, "alpaca_options_real_time", "indicative"),
         example_body={"option_symbols": ["AAPL261127C00190000", "AAPL300118C00190000"]})
def quotes_batch(args):
    return services().options.quotes(args["option_symbols"])


@bp.get("/options/<path:underlying>/chain")
@declare(MARKET, "A page of an underlying's option chain", ChainSchema, args=ChainQueryArgs(),
         path_fields={"underlying": "underlying_symbol"}, codes=CHAIN_CODES, answer=CHAIN,
         description="Every filter goes to the upstream; nothing is filtered after a download.")
def chain(args):
    return services().options.chain(args)


@bp.post("/options/chain")
@declare(MARKET, "A page of an option chain (POST form)", ChainSchema, body=ChainBodyArgs(), codes=CHAIN_CODES,
         answer=CHAIN, example_body={"underlying_symbol": "AAPL", "option_type": "call", "min_strike": "190",
                                     "max_strike": "190"})
def chain_from_body(args):
    return services().options.chain(args)
