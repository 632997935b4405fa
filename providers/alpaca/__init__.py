"""The Alpaca provider: the only package that imports alpaca-py."""

from providers.alpaca.provider import AlpacaProvider

__all__ = ["AlpacaProvider"]
