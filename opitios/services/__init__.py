"""Orchestration: validated arguments → (cache, later) → provider → plain data with its provenance."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from opitios.runtime.refresh import RuntimeConfig
from opitios.services.clock import MarketClock
from opitios.services.options import OptionService
from opitios.services.stocks import StockService
from providers.base import MarketDataProvider


@dataclass(frozen=True)
class Services:
    """What one app serves with; built in ``create_app`` and built anew when the provider changes."""

    provider: MarketDataProvider
    clock: MarketClock
    stocks: StockService
    options: OptionService

    @classmethod
    def build(cls, provider: MarketDataProvider, config: RuntimeConfig) -> "Services":
        clock = MarketClock(provider)
        return cls(provider, clock, StockService(provider, clock, config), OptionService(provider, clock, config))


def services() -> Services:
    """The current app's services."""
    return current_app.extensions["opitios"]
