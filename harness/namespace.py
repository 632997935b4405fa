"""A Redis namespace of one run's own (OPITIOS_REDIS_PREFIX), and deleting only its keys: never a whole database."""

from __future__ import annotations

import os
import uuid

import redis

# The Redis the tests use: the machine's, unless OPITIOS_TEST_REDIS_URL says otherwise.
TEST_REDIS_URL = os.environ.get("OPITIOS_TEST_REDIS_URL") or "redis://127.0.0.1:6379/0"


def new_prefix(kind: str = "test") -> str:
    """A prefix no other run uses."""
    return f"opitios-{kind}-{os.getpid()}-{uuid.uuid4().hex[:12]}"


def keys_under(client: redis.Redis, prefix: str, part: str = "") -> list[bytes]:
    """The keys of the namespace (those whose name part starts with ``part``): every key opitios writes starts with it."""
    return list(client.scan_iter(match=f"{prefix}:v1:{part}*", count=1000))


def forget(url: str, prefix: str, part: str = "") -> None:
    """Delete the namespace's keys (or those of one ``part`` of it)."""
    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        found = keys_under(client, prefix, part)
        if found:
            client.delete(*found)
    finally:
        client.close()
