"""A migrated SQLite file to start opitios on, for the tests that run it under gunicorn and for the benchmark."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import update

from opitios.db import make_engine
from opitios.migrate import upgrade
from opitios.models import ApiConfiguration

# The most the runtime configuration allows (rate_limits counts are capped at 1 000 000).
UNLIMITED_PER_HOUR = 1_000_000


def migrated_sqlite(folder: Path, name: str = "opitios.db") -> str:
    """The URL of a new SQLite file in ``folder`` with every migration applied and market data open."""
    url = f"sqlite:///{folder / name}"
    upgrade(url, quiet=True)
    open_market_data(url)
    return url


def open_market_data(url: str) -> None:
    """Let anonymous clients read market data, at (practically) no client limit."""
    engine = make_engine(url)
    table = ApiConfiguration.__table__
    try:
        with engine.begin() as connection:
            connection.execute(update(table).where(table.c.name == "access").values(
                config={"public_market_data": True}))
            connection.execute(update(table).where(table.c.name == "rate_limits").values(
                config={"anonymous_per_hour": UNLIMITED_PER_HOUR}))
    finally:
        engine.dispose()
