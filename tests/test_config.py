"""Settings come from the environment, with the contract's defaults, and refuse unusable values."""

import pytest

from opitios.config import ConfigError, settings_from_env


def test_defaults_match_the_contract():
    settings = settings_from_env({})
    assert settings["ALPACA_API_KEY"] is None and settings["ALPACA_SECRET_KEY"] is None
    assert settings["ALPACA_PAPER"] is True
    assert settings["ALPACA_STOCK_FEED"] == "iex"
    assert settings["ALPACA_OPTION_FEED"] == "indicative"
    assert settings["OPITIOS_BIND"] == "0.0.0.0:8081"
    assert settings["OPITIOS_PROVIDER"] == "alpaca"
    assert settings["OPITIOS_WORKERS"] >= 1


def test_values_are_read_and_normalized():
    settings = settings_from_env(
        {"ALPACA_PAPER": "false", "OPITIOS_ALLOW_LIVE_TRADING": "true", "ALPACA_STOCK_FEED": "SIP",
         "OPITIOS_WORKERS": "3", "OPITIOS_UPSTREAM_TIMEOUT": "0.5", "OPITIOS_TRUSTED_PROXIES": "1",
         "OPITIOS_CORS_ORIGINS": "https://a.example, https://b.example"}
    )
    assert settings["ALPACA_PAPER"] is False and settings["OPITIOS_ALLOW_LIVE_TRADING"] is True
    assert settings["OPITIOS_TRUSTED_PROXIES"] == 1
    assert settings["OPITIOS_CORS_ORIGINS"] == ["https://a.example", "https://b.example"]
    assert settings["ALPACA_STOCK_FEED"] == "sip"
    assert settings["OPITIOS_WORKERS"] == 3
    assert settings["OPITIOS_UPSTREAM_TIMEOUT"] == 0.5


@pytest.mark.parametrize(
    "name, value",
    [
        ("ALPACA_PAPER", "maybe"),
        ("ALPACA_STOCK_FEED", "nasdaq"),
        ("ALPACA_OPTION_FEED", "iex"),
        ("OPITIOS_WORKERS", "0"),
        ("OPITIOS_UPSTREAM_TIMEOUT", "-1"),
        ("OPITIOS_UPSTREAM_TIMEOUT", "soon"),
        ("OPITIOS_TRUSTED_PROXIES", "two"),
    ],
)
def test_unusable_values_stop_the_start_with_the_variable_named(name, value):
    with pytest.raises(ConfigError, match=name):
        settings_from_env({name: value})


def test_overrides_take_the_place_of_environment_variables(monkeypatch, new_app):
    monkeypatch.setenv("ALPACA_STOCK_FEED", "sip")
    app = new_app({"ALPACA_STOCK_FEED": "iex", "ALPACA_API_KEY": None, "SOMETHING_ELSE": 7})
    assert app.config["ALPACA_STOCK_FEED"] == "iex"
    assert app.config["ALPACA_API_KEY"] is None
    assert app.config["SOMETHING_ELSE"] == 7
    with pytest.raises(ConfigError, match="ALPACA_OPTION_FEED"):
        new_app({"ALPACA_OPTION_FEED": "nope"})


def test_live_trading_needs_an_explicit_second_yes():
    with pytest.raises(ConfigError, match="OPITIOS_ALLOW_LIVE_TRADING=true"):
        settings_from_env({"ALPACA_PAPER": "false"})
    with pytest.raises(ConfigError, match="OPITIOS_ALLOW_LIVE_TRADING=true"):
        settings_from_env({"ALPACA_PAPER": "false", "OPITIOS_ALLOW_LIVE_TRADING": "false"})
    assert settings_from_env({"ALPACA_PAPER": "true"})["ALPACA_PAPER"] is True


def test_a_live_start_is_announced(new_app, caplog):
    app = new_app({"ALPACA_PAPER": "false", "OPITIOS_ALLOW_LIVE_TRADING": "true", "ALPACA_API_KEY": None})
    assert any("LIVE TRADING" in record.getMessage() for record in caplog.records)
    assert app.test_client().get("/api/v1/health").get_json()["data"]["mode"] == "live"
