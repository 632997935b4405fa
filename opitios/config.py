"""Environment → settings (CONTRACT §6); secrets never get a default."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

from opitios.redis_pool import check

STOCK_FEEDS = ("iex", "sip", "delayed_sip", "otc", "boats", "overnight")
OPTION_FEEDS = ("indicative", "opra")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class ConfigError(RuntimeError):
    """A setting is present but unusable; the service refuses to start with it."""


def _text(env: Mapping[str, str], name: str, default: str | None = None) -> str | None:
    value = env.get(name)
    if value is None or not value.strip():
        return default
    return value.strip()


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = _text(env, name)
    if value is None:
        return default
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ConfigError(f"{name} must be true or false, not {value!r}")


def _choice(env: Mapping[str, str], name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = _text(env, name, default).lower()
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
    return value


def _positive(env: Mapping[str, str], name: str, default: float) -> float:
    value = _text(env, name)
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"{name} must be a number, not {value!r}") from None
    if number <= 0:
        raise ConfigError(f"{name} must be greater than 0, not {value!r}")
    return number


def _workers(env: Mapping[str, str]) -> int:
    value = _text(env, "OPITIOS_WORKERS")
    if value is None:
        return os.cpu_count() or 1
    if not value.isdigit() or int(value) < 1:
        raise ConfigError(f"OPITIOS_WORKERS must be a whole number of at least 1, not {value!r}")
    return int(value)


def _count(env: Mapping[str, str], name: str, default: int) -> int:
    value = _text(env, name)
    if value is None:
        return default
    if not value.isdigit():
        raise ConfigError(f"{name} must be a whole number, not {value!r}")
    return int(value)


def _redis_url(env: Mapping[str, str]) -> str | None:
    value = _text(env, "REDIS_URL")
    try:
        return check(value) if value is not None else None
    except ValueError as error:
        raise ConfigError(f"REDIS_URL {error}") from None


def _origins(env: Mapping[str, str]) -> list[str]:
    value = _text(env, "OPITIOS_CORS_ORIGINS")
    return [origin.strip() for origin in value.split(",") if origin.strip()] if value else []


def _live_guard(paper: bool, env: Mapping[str, str]) -> bool:
    allowed = _flag(env, "OPITIOS_ALLOW_LIVE_TRADING", False)
    if not paper and not allowed:
        raise ConfigError(
            "ALPACA_PAPER=false means live trading with real money; "
            "set OPITIOS_ALLOW_LIVE_TRADING=true as well to confirm that this is intended"
        )
    return allowed


def settings_from_env(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Read every setting the service knows from ``env`` (default: the process environment).

    Keys are upper-case so the result can go straight into ``app.config``.
    """
    env = os.environ if env is None else env
    paper = _flag(env, "ALPACA_PAPER", True)
    return {
        "ALPACA_API_KEY": _text(env, "ALPACA_API_KEY"),
        "ALPACA_SECRET_KEY": _text(env, "ALPACA_SECRET_KEY"),
        "ALPACA_PAPER": paper,
        "OPITIOS_ALLOW_LIVE_TRADING": _live_guard(paper, env),
        "ALPACA_DATA_URL": _text(env, "ALPACA_DATA_URL"),
        "ALPACA_TRADING_URL": _text(env, "ALPACA_TRADING_URL"),
        "ALPACA_STREAM_URL": _text(env, "ALPACA_STREAM_URL"),
        "ALPACA_STOCK_FEED": _choice(env, "ALPACA_STOCK_FEED", "iex", STOCK_FEEDS),
        "ALPACA_OPTION_FEED": _choice(env, "ALPACA_OPTION_FEED", "indicative", OPTION_FEEDS),
        "DATABASE_URL": _text(env, "DATABASE_URL"),
        "REDIS_URL": _redis_url(env),
        # Every Redis key opitios writes starts with this, so deployments (or test runs) can share a server.
        "OPITIOS_REDIS_PREFIX": _text(env, "OPITIOS_REDIS_PREFIX", "opitios"),
        "OPITIOS_BIND": _text(env, "OPITIOS_BIND", "0.0.0.0:8081"),
        "OPITIOS_WORKERS": _workers(env),
        "OPITIOS_PROVIDER": _text(env, "OPITIOS_PROVIDER", "alpaca"),
        "OPITIOS_UPSTREAM_TIMEOUT": _positive(env, "OPITIOS_UPSTREAM_TIMEOUT", 5.0),
        "OPITIOS_DEMO": _flag(env, "OPITIOS_DEMO", False),
        "OPITIOS_LOG_LEVEL": _text(env, "OPITIOS_LOG_LEVEL", "INFO").upper(),
        "OPITIOS_TRUSTED_PROXIES": _count(env, "OPITIOS_TRUSTED_PROXIES", 0),
        # gevent connections per worker; also the size of each worker's (blocking) Redis pool.
        "OPITIOS_WORKER_CONNECTIONS": _count(env, "OPITIOS_WORKER_CONNECTIONS", 1000),
        "OPITIOS_CORS_ORIGINS": _origins(env),
    }


# What a provider factory receives: only the settings that concern upstreams.
PROVIDER_SETTINGS = (
    "ALPACA_API_KEY",
    "ALPACA_SECRET_KEY",
    "ALPACA_PAPER",
    "ALPACA_DATA_URL",
    "ALPACA_TRADING_URL",
    "ALPACA_STREAM_URL",
    "ALPACA_STOCK_FEED",
    "ALPACA_OPTION_FEED",
    "OPITIOS_UPSTREAM_TIMEOUT",
)

# Settings that are secrets themselves, and URL settings that may carry a password.
SECRET_SETTINGS = ("ALPACA_API_KEY", "ALPACA_SECRET_KEY")
URL_SETTINGS = ("DATABASE_URL", "REDIS_URL")


def secret_values(settings: Mapping[str, Any]) -> list[str]:
    """The configured values no log line or error row may show."""
    values = [settings.get(name) for name in SECRET_SETTINGS]
    for name in URL_SETTINGS:
        try:
            password = urlsplit(settings.get(name) or "").password
        except ValueError:
            password = None  # not a URL we can read; the setting fails loudly where it is used
        if password:
            values += [password, unquote(password)]
    return [value for value in values if value]


# Every name settings_from_env reads; create_app's overrides of these are validated like the environment.
SETTING_NAMES = frozenset(settings_from_env({}))
