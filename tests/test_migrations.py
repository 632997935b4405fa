"""The same migrations build the models' schema on SQLite and PostgreSQL, and come down again."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select, text

from opitios.db import make_engine
from opitios.migrate import downgrade, upgrade
from opitios.models import ApiConfiguration, Base
from opitios.runtime.schema import DEFAULTS

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TABLES = {"api_configurations", "error_logs", "api_keys"}


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'migrations.db'}"


@pytest.fixture
def postgresql_url():
    """A schema of its own in the machine's PostgreSQL, fresh for each test."""
    schema = "opitios_migration_test"
    admin = make_engine(POSTGRES)
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    yield f"{POSTGRES}?options=-csearch_path%3D{schema}"
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request):
    return request.getfixturevalue(f"{request.param}_url")


def test_up_matches_the_models_and_down_removes_everything(url):
    upgrade(url, quiet=True)
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            assert TABLES <= set(inspect(connection).get_table_names())
            assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
            seeded = dict(connection.execute(select(ApiConfiguration.name, ApiConfiguration.config)).all())
            assert seeded == {name: dict(values) for name, values in DEFAULTS.items()}
            indexes = {index["name"] for index in inspect(connection).get_indexes("error_logs")}
            assert {"ix_error_logs_created_at", "ix_error_logs_error_code"} <= indexes
        downgrade(url, "base", quiet=True)
        with engine.connect() as connection:
            assert not TABLES & set(inspect(connection).get_table_names())
        upgrade(url, quiet=True)  # and up again, cleanly
        with engine.connect() as connection:
            assert TABLES <= set(inspect(connection).get_table_names())
    finally:
        engine.dispose()


def test_the_cli_applies_and_shows_migrations(sqlite_url, monkeypatch, runner):
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    shown = runner.invoke(args=["db", "current"])
    assert shown.exit_code == 0 and "(head)" in shown.output  # whichever revision is the newest
    assert runner.invoke(args=["db", "downgrade", "base"]).exit_code == 0
    engine = make_engine(sqlite_url)
    with engine.connect() as connection:
        assert "api_configurations" not in inspect(connection).get_table_names()
    engine.dispose()
