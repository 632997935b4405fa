"""Providers from the ``opitios.providers`` entry-point group, chosen by name in configuration."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from opitios.config import PROVIDER_SETTINGS, ConfigError
from providers.base import MarketDataProvider

if TYPE_CHECKING:  # an annotation: the `opitios` command reads available() without importing the app's metrics
    from opitios.runtime.refresh import RuntimeConfig

GROUP = "opitios.providers"
T = TypeVar("T")

log = logging.getLogger(__name__)


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


class Serving(Generic[T]):
    """What ``build`` makes of the provider in force, made again whenever the runtime configuration names another.

    The runtime configuration's ``upstream.provider`` wins; unset, ``OPITIOS_PROVIDER`` is served.
    """

    def __init__(self, settings: Mapping[str, Any], runtime: RuntimeConfig, build: Callable[[MarketDataProvider], T]):
        self._settings = settings
        self._build = build
        self.provider_name = self._name(runtime.section("upstream"))
        self.current: T = build(build_provider(self.provider_name, settings))
        runtime.on_change(lambda sections: self._follow(sections["upstream"]))

    def _name(self, upstream: Mapping[str, Any]) -> str:
        return upstream["provider"] or self._settings["OPITIOS_PROVIDER"]

    def _follow(self, upstream: Mapping[str, Any]) -> None:
        name = self._name(upstream)
        if name == self.provider_name:
            return
        self.current = self._build(build_provider(name, self._settings))
        log.warning("provider switched from %s to %s by the runtime configuration", self.provider_name, name)
        self.provider_name = name
