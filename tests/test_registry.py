"""Providers are found through the opitios.providers entry-point group and chosen by name."""

import textwrap

import pytest
from click.testing import CliRunner

from opitios import create_app
from opitios.cli import main
from opitios.config import ConfigError
from opitios.registry import available

# A second provider, installed for one test as a real distribution on sys.path:
# a module plus a .dist-info folder whose entry_points.txt names it.
STATIC_PROVIDER = textwrap.dedent(
    '''
    from datetime import datetime, timedelta, timezone

    class StaticProvider:
        name = "static"

        def __init__(self, settings):
            self.settings = settings

        def describe(self):
            return {"configured": True, "paper": True, "feeds": self.feeds()}

        def feeds(self):
            return {"stock": "static-feed", "option": "static-feed"}

        def stock_quotes(self, symbols):
            return {
                s: {"symbol": s, "bid_price": 1.5, "bid_size": 2, "ask_price": 1.75, "ask_size": 3,
                    "last_price": 1.6, "last_size": 4, "volume": 5,
                    "quote_timestamp": "2024-06-03T18:59:59.5Z", "trade_timestamp": "2024-06-03T18:59:58Z"}
                for s in symbols if s == "STAT"
            }

        def market_clock(self):
            now = datetime.now(timezone.utc)
            return {"is_open": False, "timestamp": now, "next_open": now + timedelta(hours=1),
                    "next_close": now + timedelta(hours=2)}
    '''
)


@pytest.fixture
def static_provider_installed(tmp_path, monkeypatch):
    (tmp_path / "opitios_static_provider.py").write_text(STATIC_PROVIDER)
    dist_info = tmp_path / "opitios_static_provider-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: opitios-static-provider\nVersion: 1.0\n")
    (dist_info / "entry_points.txt").write_text(
        "[opitios.providers]\nstatic = opitios_static_provider:StaticProvider\n"
        "broken = opitios_static_provider:NoSuchThing\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))


def test_the_alpaca_provider_registers_itself():
    assert available()["alpaca"].value == "providers.alpaca:AlpacaProvider"


def test_the_app_uses_a_second_provider_when_configured(static_provider_installed):
    assert {"alpaca", "static"} <= set(available())
    app = create_app({"OPITIOS_PROVIDER": "static"})
    response = app.test_client().get("/api/v1/stocks/stat/quote")
    assert response.status_code == 200
    body = response.get_json()
    assert body["data"]["bid_price"] == 1.5 and body["data"]["symbol"] == "STAT"
    assert body["metadata"]["provider"] == "static"
    assert body["metadata"]["feed"] == "static-feed"
    assert body["metadata"]["market_status"] == "closed"
    assert app.test_client().get("/api/v1/health").get_json()["data"]["provider"] == "static"


def test_an_unknown_provider_is_named_with_the_available_ones():
    with pytest.raises(ConfigError, match=r"unknown provider 'nope'; available: .*alpaca"):
        create_app({"OPITIOS_PROVIDER": "nope"})


def test_a_broken_plugin_is_one_clear_error_naming_it(static_provider_installed):
    with pytest.raises(ConfigError, match=r"provider 'broken' \(opitios_static_provider:NoSuchThing\) failed to load"):
        create_app({"OPITIOS_PROVIDER": "broken"})


def test_the_cli_lists_installed_providers():
    result = CliRunner().invoke(main, ["providers"])
    assert result.exit_code == 0
    assert "alpaca\tproviders.alpaca:AlpacaProvider" in result.output
