"""The envelopes' shapes (CONTRACT §2): success metadata of each kind, and the error envelope."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from opitios.api_errors import ERRORS
from opitios.data_classes import DEMO_DATA_SOURCE, DEMO_PROVIDER, MARKET_DATA_SOURCES, TRADING_DATA_SOURCE


class MetadataSchema(Schema):
    request_id = fields.String(required=True)
    timestamp = fields.String(required=True, metadata={"description": "when the answer was made, UTC, milliseconds"})


class _ProvenanceSchema(MetadataSchema):
    provider = fields.String(
        required=True, metadata={"description": f"the provider's name; `{DEMO_PROVIDER}` when the service runs as the offline demo"}
    )
    data_timestamp = fields.String(
        required=True, allow_none=True, metadata={"description": "the upstream's own timestamp of the datum"}
    )
    data_freshness_seconds = fields.Float(
        required=True, allow_none=True, metadata={"description": "now minus data_timestamp"}
    )
    market_status = fields.String(required=True, validate=validate.OneOf(["open", "closed", "unknown"]))


class MarketMetadataSchema(_ProvenanceSchema):
    data_source = fields.String(
        required=True,
        validate=validate.OneOf([*MARKET_DATA_SOURCES, DEMO_DATA_SOURCE]),
        metadata={"description": f"`{DEMO_DATA_SOURCE}` for every answer of the offline demo (OPITIOS_DEMO)"},
    )
    feed = fields.String(required=True, allow_none=True)
    cache = fields.String(required=True, validate=validate.OneOf(["hit", "miss", "stale"]))
    source = fields.String(
        required=True,
        validate=validate.OneOf(["rest", "stream", "mixed"]),
        metadata={"description": "how the data reached opitios: a REST snapshot call or the market-data stream "
                                 "(mixed: a batch with quotes of both)"},
    )


class TradingMetadataSchema(_ProvenanceSchema):
    data_source = fields.String(
        required=True,
        validate=validate.OneOf([TRADING_DATA_SOURCE, DEMO_DATA_SOURCE]),
        metadata={"description": f"`{DEMO_DATA_SOURCE}` for every answer of the offline demo (OPITIOS_DEMO)"},
    )
    cache = fields.String(required=True, validate=validate.OneOf(["none"]))
    idempotent_replay = fields.Boolean(metadata={"description": "order placement only: true when the order existed already"})


class ErrorSchema(Schema):
    code = fields.String(required=True, validate=validate.OneOf(list(ERRORS)))
    type = fields.String(required=True, validate=validate.OneOf(sorted({kind for _, kind, _ in ERRORS.values()})))
    message = fields.String(required=True)
    details = fields.Dict(required=True)


class ErrorMetadataSchema(MetadataSchema):
    endpoint = fields.String(required=True, metadata={"description": "the path asked for"})
    suggested_action = fields.String(required=True)


class ErrorEnvelopeSchema(Schema):
    error = fields.Nested(ErrorSchema, required=True)
    metadata = fields.Nested(ErrorMetadataSchema, required=True)
