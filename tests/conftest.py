"""Shared pytest fixtures."""
import pytest

from opitios import create_app

from sandbox.client import SandboxServer


# --- Alpaca-wire sandbox ------------------------------------------------------------------------
# One sandbox process serves the whole session; failing to start it is an error, never a skip.


@pytest.fixture(scope="session")
def sandbox_server():
    server = SandboxServer().start()
    yield server
    server.stop()


@pytest.fixture
def sandbox(sandbox_server):
    """The session's sandbox with counters, switches and clock back to their defaults."""
    sandbox_server.reset()
    return sandbox_server


# --- the gateway wired to the sandbox --------------------------------------------------------


@pytest.fixture
def make_app(sandbox):
    """Build an app whose upstream is the sandbox; keyword overrides replace settings."""

    def build(**overrides):
        settings = {
            "ALPACA_API_KEY": sandbox.key,
            "ALPACA_SECRET_KEY": sandbox.secret,
            "ALPACA_DATA_URL": sandbox.url,
            "ALPACA_TRADING_URL": sandbox.url,
            "ALPACA_STOCK_FEED": "iex",
            "ALPACA_OPTION_FEED": "indicative",
            "ALPACA_PAPER": "true",
            "OPITIOS_PROVIDER": "alpaca",
            "OPITIOS_UPSTREAM_TIMEOUT": "2",
            "TESTING": True,
            **overrides,
        }
        return create_app(settings)

    return build


@pytest.fixture
def client(make_app):
    return make_app().test_client()


@pytest.fixture
def catalog(sandbox):
    return sandbox.catalog()


@pytest.fixture
def upstream_queries(sandbox):
    """The query strings the sandbox received on a path, oldest first."""

    def queries(path):
        return [call["query"] for call in sandbox.calls()["log"] if call["path"] == path]

    return queries
