"""Stock bars: query arguments and the page of bars."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate

from opitios.schemas.common import (
    DateOrDateTime,
    Ordered,
    QueryArgs,
    Symbol,
    WholeNumber,
    instant,
    page_token,
    upstream_number,
)

TIMEFRAMES = ("1Min", "5Min", "15Min", "30Min", "1Hour", "4Hour", "1Day", "1Week", "1Month")
_BY_LOWER = {name.lower(): name for name in TIMEFRAMES}


class Timeframe(fields.Field):
    """One of the contract's timeframes, matched without regard to case and sent on in its canonical form."""

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        canonical = _BY_LOWER.get(str(value).strip().lower())
        if canonical is None:
            raise ValidationError(f"Must be one of {', '.join(TIMEFRAMES)}.")
        return canonical


class BarsArgs(QueryArgs):
    ordered = (Ordered("start", "end", "INVALID_DATE_RANGE", key=instant),)

    symbol = Symbol("stock", required=True)
    timeframe = Timeframe(load_default="1Day")
    start = DateOrDateTime(load_default=None)
    end = DateOrDateTime(load_default=None)
    limit = WholeNumber(validate=validate.Range(min=1, max=1000), load_default=100)
    page_token = page_token()


class BarSchema(Schema):
    timestamp = fields.String(required=True, metadata={"description": "bucket start, as the upstream stamped it"})
    open = upstream_number()
    high = upstream_number()
    low = upstream_number()
    close = upstream_number()
    volume = upstream_number()
    trade_count = upstream_number()
    vwap = upstream_number()


class PageInfoSchema(Schema):
    has_more = fields.Boolean(required=True)
    next_page_token = fields.String(allow_none=True)


class BarsSchema(Schema):
    symbol = fields.String(required=True)
    timeframe = fields.String(required=True)
    bars = fields.List(fields.Nested(BarSchema))
    count = fields.Integer()
    page_info = fields.Nested(PageInfoSchema)
