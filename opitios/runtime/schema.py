"""What operators may tune, section by section, with the defaults that live in code.

Each section is one ``api_configurations`` row (its ``name``); a key the row
leaves out takes the default below, a key the schema does not know is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from opitios.data_classes import DATA_CLASSES

WEEK = 7 * 24 * 3600


def _seconds(default: int, high: int = WEEK) -> fields.Integer:
    return fields.Integer(strict=True, validate=validate.Range(min=0, max=high), load_default=default)


def _count(default: int, low: int = 1, high: int = 1_000_000) -> fields.Integer:
    return fields.Integer(strict=True, validate=validate.Range(min=low, max=high), load_default=default)


class _Section(Schema):
    class Meta:
        unknown = RAISE


def _cache_ttl_section() -> type[Schema]:
    """Seconds an answer stays fresh in the cache: ``<data class>_open`` and ``<data class>_closed`` per row
    of ``opitios.data_classes``, whose defaults must pass the same rules as an operator's values (checked here,
    at import), and the refresh-ahead window."""
    settings: dict[str, fields.Field] = {}
    for row in DATA_CLASSES.values():
        for market, default in (("open", row.ttl_open), ("closed", row.ttl_closed)):
            setting = _seconds(default)
            try:
                setting.deserialize(default)
            except ValidationError as error:
                raise ValueError(f"data class {row.name}: default {market}-market TTL {default}: {error.messages}") from None
            settings[row.setting(market)] = setting
    # Hot quotes asked for within this many seconds are refreshed before their TTL ends; 0: never.
    settings["refresh_ahead_window"] = _seconds(60, high=3600)
    return _Section.from_dict(settings, name="CacheTtlSection")


CacheTtlSection = _cache_ttl_section()


class LimitsSection(_Section):
    max_batch_symbols = _count(20, high=100)
    stale_if_error_seconds = _seconds(300, high=86400)


class UpstreamSection(_Section):
    requests_per_minute = _count(190, high=100_000)
    circuit_failures = _count(5, high=1000)
    circuit_open_seconds = _count(60, high=3600)
    # None keeps OPITIOS_PROVIDER; a name switches every worker to that installed provider.
    provider = fields.String(allow_none=True, load_default=None, validate=validate.Length(min=1, max=64))


class RateLimitsSection(_Section):
    anonymous_per_hour = _count(100)
    keyed_per_hour = _count(1000)
    keyed_per_minute = _count(120)
    # How often each worker reconciles its counts with Redis: a longer interval saves Redis work and
    # lets a key overshoot its limit by more (see the README's operating section).
    sync_ms = _count(100, low=10, high=60_000)


class AccessSection(_Section):
    public_market_data = fields.Boolean(truthy={True}, falsy={False}, load_default=False)


class RuntimeSection(_Section):
    config_refresh_seconds = fields.Float(validate=validate.Range(min=0.1, max=3600), load_default=5)


class StreamSection(_Section):
    """The market-data stream (``opitios stream``): how many symbols, how late is too late, the lease."""

    # Alpaca's free plan allows 30 symbols each for trades and quotes on its one connection.
    max_symbols = _count(30, high=100_000)
    # Older than this, the stream's data stop counting as fresh and its symbols fall back to REST.
    max_lag_seconds = fields.Float(validate=validate.Range(min=0.1, max=60), load_default=2.0)
    # A streamer that stops renewing its lease for this long is replaced by another.
    lease_seconds = fields.Float(validate=validate.Range(min=1, max=300), load_default=5.0)


SECTIONS: dict[str, type[Schema]] = {
    "cache_ttl": CacheTtlSection,
    "limits": LimitsSection,
    "upstream": UpstreamSection,
    "rate_limits": RateLimitsSection,
    "access": AccessSection,
    "runtime": RuntimeSection,
    "stream": StreamSection,
}
_SCHEMAS = {name: schema() for name, schema in SECTIONS.items()}
# The defaults live in the schemas above; this is what an empty row means.
DEFAULTS: dict[str, dict[str, Any]] = {name: schema.load({}) for name, schema in _SCHEMAS.items()}


def validate_section(
    name: str, config: Any, providers: Callable[[], Mapping[str, Any]] | None = None
) -> dict[str, Any]:
    """The section's full settings (defaults filled in); ``ValidationError`` naming the field otherwise."""
    schema = _SCHEMAS.get(name)
    if schema is None:
        raise ValidationError({"name": [f"Unknown section; known: {', '.join(SECTIONS)}."]})
    if not isinstance(config, dict):
        raise ValidationError({"config": ["Must be a JSON object."]})
    values = schema.load(config)
    wanted = values.get("provider")
    if wanted is not None and providers is not None and wanted not in providers():
        raise ValidationError({"provider": [f"Not an installed provider; available: {', '.join(providers())}."]})
    return values
