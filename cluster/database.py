"""The cluster's database: one of its own on the machine's PostgreSQL, migrated, with market data open."""

from __future__ import annotations

import re

from sqlalchemy import select, text, update

from harness.database import open_market_data
from opitios.db import make_engine
from opitios.migrate import upgrade
from opitios.models import ApiConfiguration

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


def url(name: str, port: int = 5432) -> str:
    return f"postgresql+psycopg://postgres@127.0.0.1:{port}/{name}"


def _as_admin(port: int, statement: str, **params):
    """One statement on the server's ``postgres`` database, outside a transaction (CREATE/DROP DATABASE need that)."""
    engine = make_engine(url("postgres", port))
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            result = connection.execute(text(statement), params)
            return result.first() if result.returns_rows else None
    finally:
        engine.dispose()


def create(name: str, port: int = 5432, config: dict[str, dict] | None = None) -> str:
    """Create database ``name`` unless it exists, migrate it, open market data, merge ``config`` (section →
    values) into the runtime configuration; its URL."""
    if not _NAME.match(name):
        raise ValueError(f"not a database name of ours: {name!r}")
    if _as_admin(port, "SELECT 1 FROM pg_database WHERE datname = :name", name=name) is None:
        _as_admin(port, f'CREATE DATABASE "{name}"')
    address = url(name, port)
    upgrade(address, quiet=True)
    # Anonymous clients may read market data at no practical client limit, so curl (and the test's load) needs no key.
    open_market_data(address)
    if config:
        configure(address, config)
    return address


def configure(address: str, config: dict[str, dict]) -> None:
    """Merge values into runtime configuration sections, as ``opitios config set`` would."""
    engine = make_engine(address)
    table = ApiConfiguration.__table__
    try:
        with engine.begin() as connection:
            for section, values in config.items():
                current = connection.execute(select(table.c.config).where(table.c.name == section)).scalar_one()
                connection.execute(update(table).where(table.c.name == section).values(config={**current, **values}))
    finally:
        engine.dispose()


def drop(name: str, port: int = 5432) -> None:
    if not _NAME.match(name):
        raise ValueError(f"not a database name of ours: {name!r}")
    _as_admin(port, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
