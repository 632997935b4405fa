"""Shared marshmallow pieces: argument schemas that fail with the contract's codes, and our field types.

A field whose failure has a code of its own (a symbol, a date range) raises ``ApiError`` with that code at once; every other failure is a
``ValidationError`` that the schema reports under its default code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate, validates_schema

from opitios.api_errors import ApiError
from opitios import symbols

@dataclass(frozen=True)
class Ordered:
    """Two arguments that, when both are sent, must be in order: ``first`` not after (above) ``last``.

    A schema lists its pairs in ``ordered``; the same list is its validator and, as ``x-ordered``,
    the cross-field rule its OpenAPI description states.
    """

    first: str
    last: str
    code: str
    key: Callable = lambda value: value  # what the loaded values are compared as
    word: str = "after"

    def check(self, data: dict) -> None:
        first, last = data.get(self.first), data.get(self.last)
        if first is None or last is None or self.key(first) <= self.key(last):
            return
        shown = {self.first: _shown(first), self.last: _shown(last)}
        raise ApiError(
            self.code,
            f"{self.first} ({shown[self.first]}) is {self.word} {self.last} ({shown[self.last]})",
            details=shown,
        )


def _shown(value) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


class ArgsSchema(Schema):
    """Input arguments; a failure becomes an ``ApiError`` with ``error_code``."""

    error_code = "INVALID_PARAMETER"
    ordered: tuple[Ordered, ...] = ()

    @validates_schema
    def _in_order(self, data, **kwargs):
        for pair in self.ordered:
            pair.check(data)

    def handle_error(self, error: ValidationError, data, **kwargs):
        fields_in_error = error.messages if isinstance(error.messages, dict) else {"_schema": error.messages}
        summary = "; ".join(f"{name}: {' '.join(map(str, _flat(msgs)))}" for name, msgs in fields_in_error.items())
        raise ApiError(self.error_code, f"Invalid request: {summary}", details={"fields": fields_in_error})


def _flat(messages) -> list:
    if isinstance(messages, dict):
        return [m for value in messages.values() for m in _flat(value)]
    if isinstance(messages, list):
        return [m for value in messages for m in _flat(value)]
    return [messages]


class QueryArgs(ArgsSchema):
    """Query-string arguments. Unknown parameters (cache busters of old clients) are ignored."""

    class Meta:
        unknown = EXCLUDE


class BodyArgs(ArgsSchema):
    """A JSON object body. Unknown fields are refused, so a misspelt one never passes unnoticed."""

    error_code = "INVALID_REQUEST_BODY"

    class Meta:
        unknown = RAISE


def invalid_symbols(bad: list, kind: str) -> ApiError:
    shown = ", ".join(repr(s) for s in bad)
    example = "AAPL or BRK.B" if kind == "stock" else "AAPL240216C00190000"
    return ApiError(
        "INVALID_SYMBOL_FORMAT",
        f"Not a valid {kind} symbol: {shown} (expected e.g. {example})",
        details={"symbols": bad},
    )


_CANONICAL = {"stock": symbols.stock_symbol, "option": symbols.option_symbol}


class Symbol(fields.Field):
    """One stock or OCC option symbol, upper-cased; anything else is INVALID_SYMBOL_FORMAT."""

    def __init__(self, kind: str, **kwargs):
        super().__init__(**kwargs)
        self.kind = kind

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        symbol = _CANONICAL[self.kind](value)
        if symbol is None:
            raise invalid_symbols([value], self.kind)
        return symbol


class SymbolList(fields.Field):
    """One or more symbols, a JSON list (or, in a query string, comma-separated); duplicates are asked for once.

    How many a request may name is the route's to check (its ``batch``, in opitios/routes/declare.py).
    """

    def __init__(self, kind: str, *, comma_separated: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.kind = kind
        self.comma_separated = comma_separated

    def _deserialize(self, value, attr, data, **kwargs) -> list[str]:
        if self.comma_separated and isinstance(value, str):
            value = [part for part in value.split(",") if part.strip()]
        if not isinstance(value, list):
            raise ValidationError("Must be a list of symbols.")
        if not value:
            raise ValidationError("Must name at least one symbol.")
        canonical = [_CANONICAL[self.kind](item) for item in value]
        bad = [item for item, symbol in zip(value, canonical) if symbol is None]
        if bad:
            raise invalid_symbols(bad, self.kind)
        return list(dict.fromkeys(canonical))


class DateOrDateTime(fields.Field):
    """An ISO 8601 date (kept as ``YYYY-MM-DD``) or datetime (sent on as RFC 3339 UTC; naive means UTC)."""

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        if not isinstance(value, str):
            raise ValidationError("Must be an ISO 8601 date or datetime.")
        text = value.strip()
        try:
            if len(text) == 10:
                return date.fromisoformat(text).isoformat()
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise ValidationError("Must be an ISO 8601 date (2024-06-03) or datetime (2024-06-03T13:30:00Z).") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        try:
            moment = moment.astimezone(timezone.utc)
        except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00, which is in year 0 in UTC
            raise ValidationError("Must be between years 0001 and 9999 in UTC.") from None
        return moment.isoformat().replace("+00:00", "Z")


class PositiveDecimal(fields.Field):
    """A positive decimal, kept as its exact string (never rounded through a float)."""

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ValidationError("Must be a positive number.")
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise ValidationError("Must be a positive number.") from None
        if not number.is_finite() or number <= 0:
            raise ValidationError("Must be a positive number.")
        return format(number.normalize(), "f")


class WholeNumber(fields.Integer):
    """An integer that is written as one: ``5`` or ``"5"``, never ``5.5``, ``true`` or ``"5.0"``."""

    def _deserialize(self, value, attr, data, **kwargs) -> int:
        if isinstance(value, bool) or isinstance(value, float):
            raise self.make_error("invalid")
        if isinstance(value, str) and not value.strip().lstrip("-").isdigit():
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


def instant(text: str) -> datetime:
    """A loaded ``DateOrDateTime`` as a moment, so a date and a datetime compare (a date is its midnight UTC)."""
    if len(text) == 10:
        return datetime.combine(date.fromisoformat(text), datetime.min.time(), timezone.utc)
    return datetime.fromisoformat(text)


PAGE_TOKEN = (
    "the `page_info.next_page_token` of the previous page of the same request, sent back unchanged: it is the "
    "upstream's own token and goes to it as it is, so any token the upstream hands out is taken; one it did not "
    "hand out is 400 `INVALID_PARAMETER`, as the upstream decides"
)


def page_token() -> fields.String:
    """The upstream's opaque page token, passed through: opitios checks only its length."""
    return fields.String(
        validate=validate.Length(min=1, max=1024), load_default=None, metadata={"description": PAGE_TOKEN}
    )


def upstream_number(**metadata) -> fields.Raw:
    """An upstream number dumped exactly as it came (an int stays an int), or null."""
    return fields.Raw(allow_none=True, metadata={"type": "number", **metadata})


def upstream_text(**metadata) -> fields.String:
    """An upstream string (a timestamp, an id) dumped unchanged, or null."""
    return fields.String(allow_none=True, metadata=metadata)
