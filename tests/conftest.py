"""Shared pytest fixtures."""
import textwrap

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, insert, text, update

from flask.testing import FlaskClient

from harness.namespace import TEST_REDIS_URL, forget, new_prefix
from opitios import extensions
from opitios.app import create_app, stop_background
from opitios.access.keys import create_key
from opitios.cli import main
from opitios.db import make_engine
from opitios.migrate import upgrade
from opitios.models import ApiConfiguration, ErrorLog
from sandbox.client import SandboxServer


# --- the database every app in the session uses, unless a test says otherwise -------------------


@pytest.fixture(scope="session", autouse=True)
def database_url(tmp_path_factory):
    """A migrated SQLite file; DATABASE_URL points every create_app() of the session at it."""
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'opitios.db'}"
    upgrade(url, quiet=True)
    patch = pytest.MonkeyPatch()
    patch.setenv("DATABASE_URL", url)
    yield url
    patch.undo()


@pytest.fixture(scope="session")
def engine(database_url):
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


class Rows:
    """Write api_configurations rows as an operator would."""

    def __init__(self, engine):
        self.engine = engine

    def put(self, name, config, active=True):
        with self.engine.begin() as connection:
            changed = connection.execute(
                update(ApiConfiguration).where(ApiConfiguration.name == name).values(config=config, is_active=active)
            ).rowcount
            if not changed:
                connection.execute(insert(ApiConfiguration).values(name=name, config=config, is_active=active))

    def sql(self, statement, **params):
        with self.engine.begin() as connection:
            connection.execute(text(statement), params)


@pytest.fixture
def rows(engine):
    """The session database's configuration rows."""
    return Rows(engine)


@pytest.fixture
def rows_of():
    """Configuration rows of another database."""
    return Rows


@pytest.fixture
def redis_prefix(monkeypatch):
    """A Redis namespace of this test's own; every app (and gunicorn) the test starts writes under it.

    The suite never empties a database: it deletes only the keys of its namespaces.
    """
    prefix = new_prefix()
    monkeypatch.setenv("OPITIOS_REDIS_PREFIX", prefix)
    yield prefix
    forget(TEST_REDIS_URL, prefix)


@pytest.fixture
def redis_url(redis_prefix):
    """The suite's Redis (OPITIOS_TEST_REDIS_URL, else the machine's), with this test's keys under a namespace of their own."""
    return TEST_REDIS_URL


@pytest.fixture(scope="session")
def api_key(engine):
    """A key with every scope a market-data or trading test needs, in the session's database."""
    key, _ = create_key(engine, "test suite", ["read", "trade"])
    return key


class KeyedClient(FlaskClient):
    """A test client that sends the suite's API key unless a test takes it away."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        key = self.application.config.get("TEST_API_KEY")
        if key:
            self.environ_base["HTTP_X_API_KEY"] = key


@pytest.fixture(autouse=True)
def empty_tables(engine):
    """Each test starts with no configuration rows (the code defaults apply) and no error rows."""
    with engine.begin() as connection:
        connection.execute(delete(ApiConfiguration))
        connection.execute(delete(ErrorLog))


# --- the `opitios` command --------------------------------------------------------------------


class OpitiosRunner(CliRunner):
    """click's runner aimed at the `opitios` command, as Flask's test_cli_runner() is at ``flask``."""

    def invoke(self, cli=None, args=None, **kwargs):
        return super().invoke(cli or main, args, **kwargs)


@pytest.fixture
def runner():
    """Runs `opitios ...` in-process on the session's database: runner.invoke(args=["keys", "list"])."""
    return OpitiosRunner()


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


# Bounds the wait for an app's first market-clock ask, which its upstream timeout ends anyway.
CLOCK_WAIT_SECONDS = 30


@pytest.fixture
def new_app(api_key, redis_prefix):
    """create_app(), with the app's background threads stopped when the test ends.

    It depends on ``redis_prefix`` so that the namespace outlives every app: the apps stop first (a
    stopping app sends its last client-limit counts to Redis), and only then are the keys deleted.

    It returns once the app's first (background) market-clock ask has ended, so a test starts
    from a known market state, unless ``wait_for_clock=False`` (a test of a clock that stalls).
    """
    built = []

    def build(overrides=None, wait_for_clock=True):
        app = create_app(overrides)
        app.config["TEST_API_KEY"] = api_key
        app.test_client_class = KeyedClient
        built.append(app)
        if wait_for_clock:
            assert extensions.of(app).services.clock.first_ask_done.wait(CLOCK_WAIT_SECONDS), "no market-clock ask ended"
        return app

    yield build
    for app in built:
        stop_background(app)


@pytest.fixture
def make_app(sandbox, new_app):
    """Build an app whose upstream is the sandbox; keyword overrides replace settings.

    The sandbox's counters start at zero once the app is built: they count what the test's
    requests cause, not the app's start-up clock ask.
    """

    def build(wait_for_clock=True, **overrides):
        settings = {
            **sandbox.gateway_env(),
            "ALPACA_STOCK_FEED": "iex",
            "ALPACA_OPTION_FEED": "indicative",
            "ALPACA_PAPER": "true",
            "OPITIOS_PROVIDER": "alpaca",
            # Far beyond what any answer takes, however busy the machine: retries stop at their attempt
            # bound, never at a deadline that a slow machine reaches sooner. Timeout tests set their own.
            "OPITIOS_UPSTREAM_TIMEOUT": "30",
            "TESTING": True,
            **overrides,
        }
        app = new_app(settings, wait_for_clock)
        if wait_for_clock:
            sandbox.clear_calls()
        return app

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


# --- a second provider, for the registry and the runtime provider switch ----------------------

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
