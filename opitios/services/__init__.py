"""Orchestration: validated arguments → cache → provider → data with its provenance; no Flask, no HTTP."""

from __future__ import annotations

from dataclasses import dataclass

from opitios.services.cached import CachedFetch, Protection
from opitios.services.clock import MarketClock
from opitios.services.options import OptionService
from opitios.services.stocks import StockService
from opitios.services.trading import TradingService
from providers.base import MarketDataProvider


@dataclass(frozen=True)
class Services:
    """What one app serves with; built in ``create_app`` and built anew when the provider changes."""

    cached: CachedFetch
    provider: MarketDataProvider
    clock: MarketClock
    stocks: StockService
    options: OptionService
    trading: TradingService

    @classmethod
    def build(cls, provider: MarketDataProvider, protection: Protection) -> "Services":
        clock = MarketClock(lambda: protection.gate.call(provider.market_clock))
        clock.start()
        cached = CachedFetch(protection, clock.status)
        cached.ahead.start()
        config = protection.config
        return cls(
            cached,
            provider,
            clock,
            StockService(provider, clock, config, cached),
            OptionService(provider, clock, config, cached),
            TradingService(provider, protection.gate, protection.flight, clock, protection.wait_seconds),
        )

