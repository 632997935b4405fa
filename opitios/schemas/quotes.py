"""Stock quotes: path, single and batch arguments, the quote object and the batch answer."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from opitios.schemas.batches import ErrorEntrySchema, OneOf, SummarySchema
from opitios.schemas.common import BodyArgs, QueryArgs, Symbol, SymbolList, WholeNumber, upstream_number, upstream_text


class SymbolPathArgs(QueryArgs):
    symbol = Symbol("stock", required=True)


class StockQuoteBodyArgs(BodyArgs):
    symbol = Symbol("stock", required=True)


class StockBatchBodyArgs(BodyArgs):
    symbols = SymbolList("stock", required=True)
    max_age_seconds = WholeNumber(validate=validate.Range(min=0), load_default=None)


class StockBatchQueryArgs(QueryArgs):
    symbols = SymbolList("stock", comma_separated=True, required=True)
    max_age_seconds = WholeNumber(validate=validate.Range(min=0), load_default=None)


class StockQuoteSchema(Schema):
    symbol = fields.String(required=True)
    bid_price = upstream_number()
    bid_size = upstream_number()
    ask_price = upstream_number()
    ask_size = upstream_number()
    last_price = upstream_number(description="price of the latest trade")
    last_size = upstream_number()
    volume = upstream_number(description="volume of the upstream's latest daily bar")
    quote_timestamp = upstream_text()
    trade_timestamp = upstream_text()


class StockBatchEntrySchema(StockQuoteSchema):
    status = fields.String(required=True, validate=validate.OneOf(["success"]))


class StockBatchSchema(Schema):
    quotes = fields.List(OneOf(StockBatchEntrySchema, ErrorEntrySchema), required=True)
    summary = fields.Nested(SummarySchema, required=True)
