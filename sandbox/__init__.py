"""Offline Alpaca-compatible HTTP sandbox serving synthetic, deterministic market data for tests and demos."""
