"""Option quotes and chains: arguments and output objects."""

from __future__ import annotations

from decimal import Decimal

from marshmallow import Schema, fields, validate

from opitios.schemas.bars import PageInfoSchema
from opitios.schemas.batches import ErrorEntrySchema, OneOf, SummarySchema
from opitios.schemas.common import (
    BodyArgs,
    Ordered,
    PositiveDecimal,
    QueryArgs,
    Symbol,
    SymbolList,
    WholeNumber,
    page_token,
    upstream_number,
    upstream_text,
)


class OptionPathArgs(QueryArgs):
    option_symbol = Symbol("option", required=True)


class OptionQuoteBodyArgs(BodyArgs):
    option_symbol = Symbol("option", required=True)


class OptionBatchBodyArgs(BodyArgs):
    option_symbols = SymbolList("option", required=True)


class _ChainFilters:
    """The chain's filters; each goes to the upstream, none is applied after a download."""

    ordered = (
        Ordered("expiration_date_gte", "expiration_date_lte", "INVALID_DATE_RANGE"),
        Ordered("min_strike", "max_strike", "INVALID_PARAMETER", key=Decimal, word="above"),
    )
    expiration_date = fields.Date(load_default=None)
    expiration_date_gte = fields.Date(load_default=None)
    expiration_date_lte = fields.Date(load_default=None)
    option_type = fields.String(validate=validate.OneOf(["call", "put"]), load_default=None)
    min_strike = PositiveDecimal(load_default=None)
    max_strike = PositiveDecimal(load_default=None)
    limit = WholeNumber(validate=validate.Range(min=1, max=1000), load_default=100)
    page_token = page_token()


class ChainQueryArgs(_ChainFilters, QueryArgs):
    underlying_symbol = Symbol("stock", required=True)


class ChainBodyArgs(_ChainFilters, BodyArgs):
    underlying_symbol = Symbol("stock", required=True)


class GreeksSchema(Schema):
    delta = upstream_number()
    gamma = upstream_number()
    theta = upstream_number()
    vega = upstream_number()
    rho = upstream_number()


class OptionQuoteSchema(Schema):
    symbol = fields.String(required=True)
    underlying_symbol = fields.String(metadata={"description": "parsed from the OCC symbol"})
    expiration_date = fields.String(metadata={"description": "parsed from the OCC symbol"})
    option_type = fields.String(metadata={"description": "parsed from the OCC symbol"})
    strike_price = fields.Float(metadata={"description": "parsed from the OCC symbol"})
    bid_price = upstream_number()
    bid_size = upstream_number()
    ask_price = upstream_number()
    ask_size = upstream_number()
    last_price = upstream_number()
    last_size = upstream_number()
    implied_volatility = upstream_number(description="only as the upstream sent it")
    greeks = fields.Nested(GreeksSchema, allow_none=True)
    quote_timestamp = upstream_text()
    trade_timestamp = upstream_text()


class ChainSchema(Schema):
    underlying_symbol = fields.String(required=True)
    expiration_dates = fields.List(fields.String())
    contracts = fields.List(fields.Nested(OptionQuoteSchema))
    count = fields.Integer()
    filters_applied = fields.Dict()
    page_info = fields.Nested(PageInfoSchema)


class OptionBatchEntrySchema(OptionQuoteSchema):
    status = fields.String(required=True, validate=validate.OneOf(["success"]))


class OptionBatchSchema(Schema):
    quotes = fields.List(OneOf(OptionBatchEntrySchema, ErrorEntrySchema), required=True)
    summary = fields.Nested(SummarySchema, required=True)
