"""With PostgreSQL gone, market data keeps flowing on the last good configuration; when it is back, all resumes."""

import logging

import pytest
from sqlalchemy import select, text, update

from opitios import extensions
from opitios.access.keys import create_key
from opitios.db import make_engine
from opitios.migrate import upgrade
from opitios.models import ApiConfiguration, ErrorLog
from harness.tcp_proxy import TcpProxy
from tests.waiting import eventually

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:{port}/test?options=-csearch_path%3Dopitios_outage_test"


@pytest.fixture
def postgres():
    """A migrated schema of the machine's PostgreSQL, and a direct engine to edit it as an operator would."""
    direct_url = POSTGRES.format(port=5432)
    admin = make_engine(direct_url)
    with admin.begin() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS opitios_outage_test CASCADE"))
        connection.execute(text("CREATE SCHEMA opitios_outage_test"))
    upgrade(direct_url, quiet=True)
    yield admin
    with admin.begin() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS opitios_outage_test CASCADE"))
    admin.dispose()


@pytest.fixture
def proxy():
    """The app reaches PostgreSQL only through this proxy, so the test can take the database away."""
    proxy = TcpProxy(5432).start()
    yield proxy
    proxy.stop()


def set_limit(engine, value):
    with engine.begin() as connection:
        connection.execute(
            update(ApiConfiguration).where(ApiConfiguration.name == "limits").values(config={"max_batch_symbols": value})
        )


def readiness(client):
    response = client.get("/api/v1/health/ready")
    body = response.get_json()
    return response.status_code, (body.get("data") or body["error"]["details"])


def batch_status(client, count):
    symbols = ["AAPL", "MSFT", "SPY"][:count]
    return client.post("/api/v1/stocks/quotes/batch", json={"symbols": symbols}).status_code


def test_postgres_outage_and_recovery(make_app, postgres, proxy):
    with postgres.begin() as connection:
        connection.execute(update(ApiConfiguration).where(ApiConfiguration.name == "runtime").values(config={"config_refresh_seconds": 0.2}))
    set_limit(postgres, 2)
    key, _ = create_key(postgres, "outage test", ["read"])
    app = make_app(DATABASE_URL=POSTGRES.format(port=proxy.port))
    client = app.test_client()
    client.environ_base["HTTP_X_API_KEY"] = key  # a key of this database, verified before the outage
    writer = extensions.of(app).error_log
    assert readiness(client)[0] == 200
    assert batch_status(client, 3) == 400  # the database's limit (2) is in force

    proxy.stop()
    status, report = eventually(lambda: (r := readiness(client))[0] == 503 and r)
    assert report["checks"]["database"] == "down"
    assert client.get("/api/v1/health/ready").headers["X-Error-Code"] == "SERVICE_NOT_READY"
    # Data still flows, on the last good configuration, for the key verified before the outage.
    assert client.get("/api/v1/stocks/AAPL/quote").status_code == 200
    assert batch_status(client, 3) == 400 and batch_status(client, 2) == 200
    dropped_before = writer.status()["dropped"]
    assert client.get("/nope").status_code == 404  # the error answer is not delayed or failed
    assert writer.flush() and writer.status()["dropped"] > dropped_before

    proxy.start()  # the same port again: PostgreSQL is back
    eventually(lambda: readiness(client)[0] == 200)
    set_limit(postgres, 3)
    eventually(lambda: batch_status(client, 3) == 200)
    client.get("/back-again")
    assert writer.flush()
    with postgres.connect() as connection:
        endpoints = connection.execute(select(ErrorLog.endpoint)).scalars().all()
    assert "/back-again" in endpoints and "/nope" not in endpoints


class SteppedClock:
    """A monotonic clock that moves only when the test says so."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_outage_is_logged_once_then_at_most_once_a_minute(make_app, postgres, proxy, caplog):
    key, _ = create_key(postgres, "quiet outage", ["read"])
    app = make_app(DATABASE_URL=POSTGRES.format(port=proxy.port))
    client = app.test_client()
    client.environ_base["HTTP_X_API_KEY"] = key
    clock = SteppedClock()
    extensions.of(app).keys.clock = clock
    assert client.get("/api/v1/stocks/AAPL/quote").status_code == 200  # verified while the database is up
    caplog.set_level(logging.INFO, logger="opitios.access.keys")

    def logged(text):
        return [r.getMessage() for r in caplog.records if r.name == "opitios.access.keys" and text in r.getMessage()]

    proxy.stop()
    for _ in range(6):  # 50 s of requests, each past the remembered verdict, so each asks the database
        clock.now += 10
        assert client.get("/api/v1/stocks/AAPL/quote").status_code == 200
    assert len(logged("keeping the last verdict")) == 1  # the change, once
    clock.now += 10  # a minute after that line
    assert client.get("/api/v1/stocks/AAPL/quote").status_code == 200
    assert len(logged("keeping the last verdict")) == 2

    proxy.start()
    clock.now += 10
    assert client.get("/api/v1/stocks/AAPL/quote").status_code == 200
    assert len(logged("database reachable again")) == 1
    assert len(logged("keeping the last verdict")) == 2
