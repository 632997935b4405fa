"""Single-flight: of many requests missing the same key at once, one fetches and the others wait.

Claims are Redis keys set with NX and a short lease (so a crashed worker's
claim expires), shared by every worker and instance; without Redis, or while
it is away, they are claims within this worker.
"""

from __future__ import annotations

import threading
import uuid

from opitios.shared_redis import SharedRedis

# Delete a claim only if it is still ours (its lease may have passed to another).
_RELEASE = """
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then redis.call('DEL', key) end
end
return 1
"""


class SingleFlight:
    def __init__(self, shared: SharedRedis | None, lease_seconds: float):
        self._shared = shared
        self._lease_ms = int(lease_seconds * 1000)
        self._held: set[str] = set()
        self._lock = threading.Lock()
        if shared is not None:
            self._prefix = shared.key("lock:")
            self._release_script = shared.client.register_script(_RELEASE)

    def claim(self, keys: list[str]) -> tuple[str, set[str]]:
        """A claim token and the keys this caller now owns (the others are being fetched elsewhere)."""
        token = uuid.uuid4().hex
        if self._shared is None:
            return token, self._claim_local(keys)
        return token, self._shared.run(lambda: self._claim_shared(keys, token), lambda: self._claim_local(keys))

    def _claim_shared(self, keys: list[str], token: str) -> set[str]:
        pipeline = self._shared.client.pipeline(transaction=False)
        for key in keys:
            pipeline.set(self._prefix + key, token, nx=True, px=self._lease_ms)
        return {key for key, won in zip(keys, pipeline.execute()) if won}

    def _claim_local(self, keys: list[str]) -> set[str]:
        with self._lock:
            owned = {key for key in keys if key not in self._held}
            self._held |= owned
            return owned

    def held(self, key: str) -> bool:
        """Whether someone still holds a claim on ``key``."""
        if self._shared is None:
            return key in self._held
        return self._shared.run(lambda: bool(self._shared.client.exists(self._prefix + key)), lambda: key in self._held)

    def release(self, token: str, keys: set[str]) -> None:
        if not keys:
            return
        with self._lock:
            self._held -= keys
        if self._shared is not None:
            self._shared.run(lambda: self._release_script(keys=[self._prefix + key for key in keys], args=[token]), lambda: None)
