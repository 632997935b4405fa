"""Database engines and URLs: SQLite in the instance folder by default, PostgreSQL in production."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Seconds before a database that does not answer counts as down, so a dead
# database slows no background loop for long.
CONNECT_TIMEOUT = 3


def database_url(configured: str | None) -> str:
    """``DATABASE_URL``, or an SQLite file in the instance folder (the folder is made at the first connection)."""
    if configured:
        return configured
    return f"sqlite:///{PROJECT_ROOT / 'instance' / 'opitios.db'}"


def make_engine(url: str) -> Engine:
    """An engine that checks connections before use, so it recovers by itself after an outage."""
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        engine = create_engine(url, pool_pre_ping=True, connect_args={"check_same_thread": False, "timeout": CONNECT_TIMEOUT})
        folder = _sqlite_folder(make_url(url).database)
        if folder is not None:
            # Made when a connection is first needed, not with the engine: a command that needs no
            # database (``opitios --help``, ``opitios openapi``) leaves no folder or file behind.
            event.listen(engine, "do_connect", lambda *_: folder.mkdir(parents=True, exist_ok=True))
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    connect_args = {"connect_timeout": CONNECT_TIMEOUT} if backend == "postgresql" else {}
    return create_engine(url, pool_pre_ping=True, pool_size=2, max_overflow=2, connect_args=connect_args)


def _sqlite_folder(database: str | None) -> Path | None:
    """The folder an SQLite file lives in; None for an in-memory database."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).parent


def _sqlite_pragmas(connection, _record) -> None:
    # WAL lets the error writer and the config refresher work while a CLI edits.
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()
