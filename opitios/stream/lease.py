"""The streamer's lease in Redis: only its holder may hold the upstream connection.

``SET key token NX PX`` takes it; the holder renews it well before it lapses and gives it back
when it stops. A holder that cannot renew (Redis away, or the lease taken over after a pause)
must close its connection at once; it also counts its lease as lost when its own clock says the
lease may have lapsed, whatever Redis answers later, so it never streams on a lease that another
may already hold.
"""

from __future__ import annotations

import time

import redis

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class Lease:
    def __init__(self, client: redis.Redis, key: str, token: str):
        self._client = client
        self.key = key
        self.token = token
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)
        self._valid_until = 0.0  # monotonic; past this we may no longer hold it

    def held(self) -> bool:
        return time.monotonic() < self._valid_until

    def acquire(self, seconds: float) -> bool:
        """Take the lease if nobody holds it."""
        started = time.monotonic()
        try:
            won = bool(self._client.set(self.key, self.token, nx=True, px=int(seconds * 1000)))
        except redis.RedisError:
            return False
        if won:
            self._valid_until = started + seconds
        return won

    def renew(self, seconds: float) -> bool:
        """Extend it; False (and no longer held) when it was lost or Redis did not answer."""
        started = time.monotonic()
        try:
            kept = bool(self._renew(keys=[self.key], args=[self.token, int(seconds * 1000)]))
        except redis.RedisError:
            kept = False
        self._valid_until = started + seconds if kept else 0.0
        return kept

    def release(self) -> None:
        self._valid_until = 0.0
        try:
            self._release(keys=[self.key], args=[self.token])
        except redis.RedisError:
            pass  # it lapses by itself

    def holder(self) -> str | None:
        try:
            value = self._client.get(self.key)
        except redis.RedisError:
            return None
        return value.decode() if value is not None else None
