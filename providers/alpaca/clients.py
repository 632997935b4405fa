"""alpaca-py clients, built once per process and tuned for serving many clients."""

from __future__ import annotations

import time
from dataclasses import dataclass

import requests
from alpaca.common.rest import RESTClient
from alpaca.data.historical.option import OptionHistoricalDataClient
from alpaca.data.historical.stock import StockHistoricalDataClient
from alpaca.trading.client import TradingClient

from providers.base import UPSTREAM_DEADLINE

DATA_URL = "https://data.alpaca.markets"
PAPER_TRADING_URL = "https://paper-api.alpaca.markets"
LIVE_TRADING_URL = "https://api.alpaca.markets"


class TimeoutSession(requests.Session):
    """A session whose requests never wait forever (alpaca-py sets no timeout) nor past the gateway's deadline."""

    def __init__(self, timeout: float):
        super().__init__()
        self.timeout = timeout

    def request(self, method, url, **kwargs):  # noqa: D102 - same as requests.Session.request
        timeout = self.timeout
        deadline = UPSTREAM_DEADLINE.get()
        if deadline is not None:
            timeout = max(0.01, min(timeout, deadline - time.monotonic()))
        kwargs.setdefault("timeout", timeout)
        return super().request(method, url, **kwargs)


@dataclass(frozen=True)
class AlpacaClients:
    stock: StockHistoricalDataClient
    option: OptionHistoricalDataClient
    trading: TradingClient


def base_urls(data_url: str | None, trading_url: str | None, paper: bool) -> tuple[str, str]:
    """The data and trading base URLs: an override as given, else Alpaca's own hosts."""
    data = (data_url or DATA_URL).rstrip("/")
    trading = (trading_url or (PAPER_TRADING_URL if paper else LIVE_TRADING_URL)).rstrip("/")
    return data, trading


def _tune(client: RESTClient, timeout: float) -> RESTClient:
    # The SDK would retry a 429 or 504 three times, 3 s apart: one client request
    # could then spend four upstream calls and block a worker for 9 s. A gateway
    # must answer at once and let the client (or the cache) decide.
    client._retry = 0
    client._session = TimeoutSession(timeout)
    return client


def build_clients(
    api_key: str,
    secret_key: str,
    *,
    paper: bool,
    data_url: str,
    trading_url: str,
    timeout: float,
) -> AlpacaClients:
    """Create the three clients the provider uses; the URLs go to alpaca-py's ``url_override``."""
    common = {"api_key": api_key, "secret_key": secret_key, "raw_data": True}
    return AlpacaClients(
        stock=_tune(StockHistoricalDataClient(url_override=data_url, **common), timeout),
        option=_tune(OptionHistoricalDataClient(url_override=data_url, **common), timeout),
        trading=_tune(TradingClient(paper=paper, url_override=trading_url, **common), timeout),
    )
