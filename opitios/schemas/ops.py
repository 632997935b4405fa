"""Operations: what liveness and readiness answer."""

from __future__ import annotations

from marshmallow import Schema, fields, validate


class HealthSchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf(["ok"]))
    version = fields.String(required=True)
    provider = fields.String(required=True)
    mode = fields.String(required=True, validate=validate.OneOf(["paper", "live"]))
    upstream = fields.Dict(required=True, metadata={"description": "kind, base URLs and feeds; never a secret"})
    uptime_seconds = fields.Float(required=True)


class ReadySchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf(["ready"]))
    checks = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    cache = fields.String(required=True, validate=validate.OneOf(["ok", "degraded", "local"]))
    circuit = fields.String(required=True, validate=validate.OneOf(["closed", "half-open", "open"]))
    configuration = fields.Dict(required=True)
    error_log = fields.Dict(required=True)
    stream = fields.Dict(
        required=True,
        metadata={"description": "the deployment's market-data stream: state, connected, subscribed, lag_seconds, counts"},
    )
