"""The stores a benchmark run starts from: a freshly migrated SQLite file and an emptied Redis database."""

from __future__ import annotations

import socket
from pathlib import Path

from opitios.migrate import upgrade

REDIS_URL = "redis://127.0.0.1:6379/14"  # a database of its own, so FLUSHDB never touches anyone else's keys


def migrated_sqlite(folder: Path) -> str:
    """The URL of a new SQLite file in ``folder`` with every migration applied."""
    url = f"sqlite:///{folder / 'opitios-bench.db'}"
    upgrade(url, quiet=True)
    return url


def flush_redis(host: str = "127.0.0.1", port: int = 6379, db: int = 14) -> str | None:
    """FLUSHDB on ``db``; None when done, else why not (the gateway may not use Redis yet, so not fatal)."""
    # Raw RESP over a socket: the redis client is not a dependency of opitios (yet).
    command = f"*2\r\n$6\r\nSELECT\r\n${len(str(db))}\r\n{db}\r\n*1\r\n$7\r\nFLUSHDB\r\n".encode()
    try:
        with socket.create_connection((host, port), timeout=2) as connection:
            connection.sendall(command)
            answer = b""
            while answer.count(b"\r\n") < 2:
                chunk = connection.recv(256)
                if not chunk:
                    break
                answer += chunk
    except OSError as error:
        return f"Redis at {host}:{port} unreachable ({error}); `make services` starts it"
    if answer != b"+OK\r\n+OK\r\n":
        return f"Redis refused SELECT/FLUSHDB: {answer!r}"
    return None
