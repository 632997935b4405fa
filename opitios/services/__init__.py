"""Orchestration: validated arguments → (cache, later) → provider → plain data with its provenance."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from opitios.services.clock import MarketClock
from opitios.services.options import OptionService
from opitios.services.stocks import StockService
from providers.base import MarketDataProvider


@dataclass(frozen=True)
class Services:
    """Everything one app instance serves with: built once in ``create_app``."""

    provider: MarketDataProvider
    clock: MarketClock
    stocks: StockService
    options: OptionService

    @classmethod
    def build(cls, provider: MarketDataProvider) -> "Services":
        clock = MarketClock(provider)
        return cls(provider, clock, StockService(provider, clock), OptionService(provider, clock))


def services() -> Services:
    """The current app's services."""
    return current_app.extensions["opitios"]
