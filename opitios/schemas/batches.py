"""Batch answers: one entry per requested symbol, its quote or its error in place, and a summary."""

from __future__ import annotations

from marshmallow import Schema, fields, validate


class OneOf(fields.Field):
    """Exactly one of several object shapes (documented as ``oneOf``)."""

    def __init__(self, *schemas: type[Schema], **kwargs):
        super().__init__(**kwargs)
        self.schemas = schemas


class EntryErrorSchema(Schema):
    code = fields.String(required=True)
    message = fields.String(required=True)


class ErrorEntrySchema(Schema):
    symbol = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(["error"]))
    error = fields.Nested(EntryErrorSchema, required=True)


class SummarySchema(Schema):
    total_requested = fields.Integer(required=True)
    successful = fields.Integer(required=True)
    failed = fields.Integer(required=True)

