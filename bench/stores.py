"""The stores a benchmark run starts from: a migrated SQLite file with an API key, and its own Redis keys only."""

from __future__ import annotations

from pathlib import Path

import redis
from sqlalchemy import select, update

from harness.database import UNLIMITED_PER_HOUR, migrated_sqlite
from harness.namespace import forget, keys_under
from opitios.access.keys import create_key
from opitios.db import make_engine
from opitios.models import ApiConfiguration
from opitios.runtime.schema import validate_section

REDIS_URL = "redis://127.0.0.1:6379/0"
# Every key the benchmark's gateway writes is under this namespace, and only those are ever deleted.
REDIS_PREFIX = "opitios-bench"
# The most the runtime configuration allows (rate_limits counts are capped at 1 000 000).
KEYED_LIMIT = 1_000_000


def keyed_database(folder: Path, name: str = "opitios-bench.db", keys: int = 1) -> tuple[str, list[str]]:
    """A migrated SQLite file for the benchmark proper, and ``keys`` ``read`` API keys stored in it.

    Market data is closed to anonymous clients (``access.public_market_data`` false, the production
    default), so every measured request is authenticated with the key; the key's limits are the most
    the schema allows, so every request is counted against them and none is refused.
    """
    url = migrated_sqlite(folder, name)
    engine = make_engine(url)
    table = ApiConfiguration.__table__
    try:
        made = [create_key(engine, f"benchmark {number}", ["read"])[0] for number in range(1, keys + 1)]
        with engine.begin() as connection:
            connection.execute(update(table).where(table.c.name == "access").values(config={"public_market_data": False}))
            connection.execute(
                update(table).where(table.c.name == "rate_limits").values(
                    config={"anonymous_per_hour": UNLIMITED_PER_HOUR,
                            "keyed_per_minute": KEYED_LIMIT, "keyed_per_hour": KEYED_LIMIT}
                )
            )
    finally:
        engine.dispose()
    return url, made


def section(url: str, name: str) -> dict:
    """One runtime configuration section as the service reads it (defaults filled in)."""
    engine = make_engine(url)
    table = ApiConfiguration.__table__
    try:
        with engine.connect() as connection:
            row = connection.execute(select(table.c.config).where(table.c.name == name)).first()
    finally:
        engine.dispose()
    return validate_section(name, (row.config if row is not None else None) or {})


def forget_keys(url: str = REDIS_URL, part: str = "") -> str | None:
    """Delete the benchmark's keys (those whose name part starts with ``part``); None when done, else why not."""
    try:
        forget(url, REDIS_PREFIX, part)
    except redis.RedisError as error:
        return f"Redis at {url} unreachable ({error.__class__.__name__}); `make services` starts it"
    return None


def reset_client_limits(url: str = REDIS_URL) -> None:
    """Delete the client rate-limit counters: the key starts the next scenario with its whole allowance, as in a new hour."""
    forget_keys(url, "limits")


def redis_keys(url: str = REDIS_URL) -> int:
    """How many keys the benchmark holds in Redis."""
    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        return len(keys_under(client, REDIS_PREFIX))
    finally:
        client.close()
