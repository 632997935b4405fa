"""The stream's state and counters in Redis: the lease holder writes them, every web worker reads them.

``stream:{feed}:status`` is the holder's latest report (JSON that expires a few seconds after its
last write, so a dead holder's report disappears by itself); ``stream:{feed}:counts`` is a hash of
deployment-wide counters (messages by part, reconnects, lease changes, upstream errors by code)
that carry on across holders. Readiness shows the first, ``/metrics`` both.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import redis
from flask import Flask

from opitios import extensions
from opitios.shared_redis import SharedRedis

# What readiness shows when no streamer reports: none holds the lease (or none runs).
NOBODY = {"state": "none", "connected": False, "healthy": False, "subscribed": 0, "lag_seconds": None}


class StreamBoard:
    def __init__(self, shared: SharedRedis, feed: str):
        self._shared = shared
        self._status = shared.key(f"stream:{feed}:status")
        self._counts = shared.key(f"stream:{feed}:counts")

    def publish(self, report: Mapping[str, Any], keep_seconds: float) -> None:
        self._shared.client.set(self._status, json.dumps(report), px=int(keep_seconds * 1000))

    def count(self, amounts: Mapping[str, int]) -> None:
        amounts = {name: amount for name, amount in amounts.items() if amount}
        if amounts:
            pipeline = self._shared.client.pipeline(transaction=False)
            for name, amount in amounts.items():
                pipeline.hincrby(self._counts, name, amount)
            pipeline.execute()

    def clear(self) -> None:
        self._shared.client.delete(self._status)

    def read(self) -> dict[str, Any]:
        """The holder's report and the counters; ``state: "unknown"`` while Redis does not answer."""
        try:
            pipeline = self._shared.client.pipeline(transaction=False)
            pipeline.get(self._status)
            pipeline.hgetall(self._counts)
            status, counts = pipeline.execute()
        except redis.RedisError:
            return {**NOBODY, "state": "unknown", "counts": {}}
        report = json.loads(status) if status else dict(NOBODY)
        report["counts"] = {name.decode(): int(value) for name, value in sorted(counts.items())}
        return report


def stream_report(app: Flask) -> dict[str, Any]:
    """What ``app``'s readiness and metrics show of the deployment's stream."""
    parts = extensions.of(app)
    shared = parts.redis
    if shared is None:
        return {**NOBODY, "state": "off", "counts": {}}  # no Redis: no streamer can run
    if shared.state != "ok":
        return {**NOBODY, "state": "unknown", "counts": {}}
    return StreamBoard(shared, parts.services.provider.feeds()["stock"]).read()
