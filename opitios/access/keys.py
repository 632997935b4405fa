"""API keys: made here, stored as a slow salted hash (scrypt), verified without a query per request.

A key reads ``opk_<prefix>_<secret>``. The 8-character prefix is not secret:
it finds the row and names the key in lists and logs. Verified keys (and
refused ones) are remembered for ``config_refresh_seconds``, so a revocation
reaches every worker within that time and a request costs no query.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import Engine, select, update
from sqlalchemy.exc import SQLAlchemyError

from opitios.models import ApiKey

log = logging.getLogger(__name__)

SCOPES = ("read", "trade", "admin")
KEY_FORMAT = re.compile(r"opk_(?P<prefix>[0-9a-f]{8})_[A-Za-z0-9_-]{43}")
# scrypt at these settings costs tens of milliseconds and 16 MiB: paid once per key and worker
# (a later look-up that finds the same stored hash does not run it again), never per request.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
REMEMBERED = 10_000
# While the database is away, repeat the warning at most this often (seconds).
OUTAGE_NOTICE_EVERY = 60.0


def new_key() -> tuple[str, str]:
    """A fresh key and its prefix; the key is shown once and never stored."""
    prefix = secrets.token_hex(4)
    return f"opk_{prefix}_{secrets.token_urlsafe(32)}", prefix


def _scrypt(key: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(key.encode(), salt=salt, n=n, r=r, p=p, maxmem=64 * 1024 * 1024, dklen=32)


def hash_key(key: str) -> str:
    salt = secrets.token_bytes(16)
    digest = _scrypt(key, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    encode = lambda raw: base64.b64encode(raw).decode()  # noqa: E731
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${encode(salt)}${encode(digest)}"


def matches(key: str, stored: str) -> bool:
    """Whether ``key`` is the one hashed into ``stored``, compared in constant time."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        expected = base64.b64decode(digest)
        actual = _scrypt(key, base64.b64decode(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return scheme == "scrypt" and hmac.compare_digest(actual, expected)


def prefix_of(key: str) -> str | None:
    match = KEY_FORMAT.fullmatch(key)
    return match["prefix"] if match else None


@dataclass(frozen=True)
class Client:
    """Who a verified key belongs to."""

    prefix: str
    name: str
    scopes: tuple[str, ...]

    def allows(self, scope: str) -> bool:
        return scope in self.scopes or "admin" in self.scopes


class KeysUnavailable(Exception):
    """The database cannot be asked about a key this worker has never verified."""


@dataclass
class _Remembered:
    client: Client | None  # None: refused
    until: float
    key_hash: str | None = None  # the stored hash the key was checked against, when it matched


class KeyVerifier:
    def __init__(self, engine: Engine, remember_seconds: Callable[[], float], clock: Callable[[], float] = time.monotonic):
        self._engine = engine
        self._remember_seconds = remember_seconds
        self.clock = clock  # a monotonic clock; tests move one by hand
        self._remembered: dict[str, _Remembered] = {}
        self._lock = threading.Lock()
        self._down_since: float | None = None  # when the database stopped answering, while it does not
        self._noticed_at = 0.0

    def verify(self, presented: str) -> Client | None:
        """The key's client, or ``None`` when the key is not a live one."""
        # Remembered by a digest, so no raw key sits in this worker's memory.
        digest = hashlib.sha256(presented.encode()).hexdigest()
        known = self._remembered.get(digest)
        if known is not None and known.until > self.clock():
            return known.client
        prefix = prefix_of(presented)
        if prefix is None:
            return self._remember(digest, None)
        try:
            client, key_hash = self._look_up(prefix, presented, known.key_hash if known is not None else None)
        except SQLAlchemyError as error:
            self._database_failed(error)
            if known is not None:
                # The last verdict stands, for another interval: a dead database is not asked (nor
                # waited for) on every request.
                return self._remember(digest, known.client, known.key_hash)
            raise KeysUnavailable(f"cannot verify API key {prefix} now") from None
        self._database_answered()
        return self._remember(digest, client, key_hash)

    def _database_failed(self, error: SQLAlchemyError) -> None:
        """Log the outage when it starts, then at most every ``OUTAGE_NOTICE_EVERY`` seconds, not per request."""
        now = self.clock()
        with self._lock:
            if self._down_since is not None and now - self._noticed_at < OUTAGE_NOTICE_EVERY:
                return
            started = self._down_since is None
            self._down_since = now if started else self._down_since
            self._noticed_at = now
            down_for = now - self._down_since
        if started:
            log.warning("api keys: database unavailable (%s), keeping the last verdict of each key", error.__class__.__name__)
        else:
            log.warning(
                "api keys: database still unavailable after %.0f s (%s), keeping the last verdict of each key",
                down_for, error.__class__.__name__,
            )

    def _database_answered(self) -> None:
        if self._down_since is None:
            return
        with self._lock:
            down_since, self._down_since = self._down_since, None
        if down_since is not None:
            log.warning("api keys: database reachable again after %.0f s", self.clock() - down_since)

    def _look_up(self, prefix: str, presented: str, matched: str | None) -> tuple[Client | None, str | None]:
        """The key's client and stored hash. ``matched`` is the stored hash this key was last found to
        match: while the row still holds it, the key matches it still, and scrypt is not run again."""
        with self._engine.begin() as connection:
            row = connection.execute(select(ApiKey).where(ApiKey.prefix == prefix)).first()
            if row is None or row.revoked_at is not None:
                return None, None
            if row.key_hash != matched and not matches(presented, row.key_hash):
                return None, None
            connection.execute(
                update(ApiKey).where(ApiKey.id == row.id).values(last_used_at=datetime.now(timezone.utc))
            )
        return Client(row.prefix, row.name, tuple(row.scopes)), row.key_hash

    def _remember(self, digest: str, client: Client | None, key_hash: str | None = None) -> Client | None:
        with self._lock:
            if len(self._remembered) >= REMEMBERED:
                self._remembered.clear()  # crude but bounded: the next requests verify again
            self._remembered[digest] = _Remembered(client, self.clock() + self._remember_seconds(), key_hash)
        return client


# -- what `opitios keys` does ---------------------------------------------------------------------


def create_key(engine: Engine, name: str, scopes: list[str]) -> tuple[str, str]:
    """Store a new key's hash; return the key (to show once) and its prefix."""
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise ValueError(f"scopes must be some of {', '.join(SCOPES)}; got {', '.join(scopes) or 'none'}")
    key, prefix = new_key()
    with engine.begin() as connection:
        connection.execute(ApiKey.__table__.insert().values(prefix=prefix, key_hash=hash_key(key), name=name, scopes=scopes))
    return key, prefix


def revoke_key(engine: Engine, prefix: str) -> bool:
    """Mark the key revoked; ``False`` when there is no live key with that prefix."""
    with engine.begin() as connection:
        result = connection.execute(
            update(ApiKey)
            .where(ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None))
            .values(revoked_at=datetime.now(timezone.utc))
        )
    return result.rowcount == 1


def list_keys(engine: Engine) -> list:
    with engine.connect() as connection:
        return connection.execute(
            select(ApiKey.prefix, ApiKey.name, ApiKey.scopes, ApiKey.created_at, ApiKey.last_used_at, ApiKey.revoked_at)
            .order_by(ApiKey.id)
        ).all()
