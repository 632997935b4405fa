"""Providers from the ``opitios.providers`` entry-point group, chosen by name in configuration."""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from opitios.config import PROVIDER_SETTINGS, ConfigError
from providers.base import MarketDataProvider

GROUP = "opitios.providers"


def available() -> dict[str, EntryPoint]:
    """Every installed provider by name, sorted; the group is read from installed metadata."""
    return {ep.name: ep for ep in sorted(entry_points(group=GROUP), key=lambda ep: ep.name)}


def build_provider(name: str, settings: Mapping[str, Any]) -> MarketDataProvider:
    """Load provider ``name`` and build it from the upstream settings; one clear error if that fails."""
    providers = available()
    entry = providers.get(name)
    if entry is None:
        names = ", ".join(providers) or "none (is opitios installed? run: pip install -e .)"
        raise ConfigError(f"unknown provider {name!r}; available: {names}")
    try:
        factory = entry.load()
    except Exception as error:  # a broken plugin must name itself, not crash with an import trace
        raise ConfigError(f"provider {name!r} ({entry.value}) failed to load: {error}") from error
    return factory({key: settings.get(key) for key in PROVIDER_SETTINGS})
