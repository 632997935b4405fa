"""Providers are found through the opitios.providers entry-point group and chosen by name."""

import pytest

from opitios.config import ConfigError
from opitios.registry import available


def test_the_alpaca_provider_registers_itself():
    assert available()["alpaca"].value == "providers.alpaca:AlpacaProvider"


def test_the_app_uses_a_second_provider_when_configured(static_provider_installed, new_app):
    assert {"alpaca", "static"} <= set(available())
    app = new_app({"OPITIOS_PROVIDER": "static"})
    response = app.test_client().get("/api/v1/stocks/stat/quote")
    assert response.status_code == 200
    body = response.get_json()
    assert body["data"]["bid_price"] == 1.5 and body["data"]["symbol"] == "STAT"
    assert body["metadata"]["provider"] == "static"
    assert body["metadata"]["feed"] == "static-feed"
    assert body["metadata"]["market_status"] == "closed"
    assert app.test_client().get("/api/v1/health").get_json()["data"]["provider"] == "static"


def test_an_unknown_provider_is_named_with_the_available_ones(new_app):
    with pytest.raises(ConfigError, match=r"unknown provider 'nope'; available: .*alpaca"):
        new_app({"OPITIOS_PROVIDER": "nope"})


def test_a_broken_plugin_is_one_clear_error_naming_it(static_provider_installed, new_app):
    with pytest.raises(ConfigError, match=r"provider 'broken' \(opitios_static_provider:NoSuchThing\) failed to load"):
        new_app({"OPITIOS_PROVIDER": "broken"})


def test_the_cli_lists_installed_providers(runner):
    result = runner.invoke(args=["providers"])
    assert result.exit_code == 0
    assert "alpaca\tproviders.alpaca:AlpacaProvider" in result.output
