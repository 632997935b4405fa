"""The stores a benchmark run starts from: a migrated SQLite file with market data open, and an emptied Redis database."""

from __future__ import annotations

from pathlib import Path

import redis
from sqlalchemy import update

from opitios.db import make_engine
from opitios.migrate import upgrade
from opitios.models import ApiConfiguration

REDIS_URL = "redis://127.0.0.1:6379/14"  # a database of its own, so FLUSHDB never touches anyone else's keys
# The most the runtime configuration allows: a benchmark measures serving, not the client limits.
UNLIMITED_PER_HOUR = 1_000_000


def migrated_sqlite(folder: Path, name: str = "opitios-bench.db") -> str:
    """The URL of a new SQLite file in ``folder`` with every migration applied and market data open."""
    url = f"sqlite:///{folder / name}"
    upgrade(url, quiet=True)
    open_market_data(url)
    return url


def open_market_data(url: str) -> None:
    """Let anonymous clients read market data, at (practically) no client limit."""
    engine = make_engine(url)
    table = ApiConfiguration.__table__
    with engine.begin() as connection:
        connection.execute(update(table).where(table.c.name == "access").values(config={"public_market_data": True}))
        connection.execute(
            update(table).where(table.c.name == "rate_limits").values(config={"anonymous_per_hour": UNLIMITED_PER_HOUR})
        )
    engine.dispose()


def flush_redis(url: str = REDIS_URL) -> str | None:
    """FLUSHDB on the benchmark's database; None when done, else why not."""
    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.flushdb()
    except redis.RedisError as error:
        return f"Redis at {url} unreachable ({error.__class__.__name__}); `make services` starts it"
    finally:
        client.close()
    return None
