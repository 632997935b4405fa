"""Which symbols clients asked for lately, in Redis: the web workers write it, the streamer follows it.

One sorted set per streamed data class (``interest:stock_quote``, see ``opitios.data_classes``): the member is the symbol, the
score the last time a client was answered with data for it. Each worker adds what it answered
since its previous write from refresh-ahead's background tick (never on the request path), and
trims what is older than the refresh-ahead window.
"""

from __future__ import annotations

import time
from collections.abc import Hashable, Mapping

from opitios.shared_redis import SharedRedis

class Interest:
    def __init__(self, shared: SharedRedis):
        self._shared = shared

    def key(self, data_class: str) -> str:
        return self._shared.key(f"interest:{data_class}")

    def record(self, asked: Mapping[tuple[str, Hashable], float], window: float) -> None:
        """Add ``{(data_class, item): asked_at}``; a Redis outage loses only this round (the next one catches up)."""
        if not asked:
            return
        by_class: dict[str, dict[str, float]] = {}
        for (data_class, item), asked_at in asked.items():
            by_class.setdefault(data_class, {})[str(item)] = asked_at
        horizon = time.time() - window

        def write() -> None:
            pipeline = self._shared.client.pipeline(transaction=False)
            for data_class, members in by_class.items():
                key = self.key(data_class)
                pipeline.zadd(key, members, gt=True)  # a slower worker's older time never moves one back
                pipeline.zremrangebyscore(key, "-inf", horizon)
                pipeline.expire(key, int(window) + 60)
            pipeline.execute()

        self._shared.run(write, lambda: None)

    def recent(self, data_class: str, window: float) -> dict[str, float]:
        """``{item: last asked}`` for what was asked within ``window`` seconds, newest first."""
        found = self._shared.client.zrevrangebyscore(self.key(data_class), "+inf", time.time() - window, withscores=True)
        return {member.decode(): score for member, score in found}


def follow(recent: Mapping[str, float], current: set[str], cap: int) -> set[str]:
    """The symbols to stream: those already streamed that are still asked for, then the most recently asked, up to ``cap``.

    Keeping what is already subscribed first stops the set churning when more than ``cap`` symbols are hot.
    """
    kept = [symbol for symbol in recent if symbol in current][:cap]
    newest = [symbol for symbol in recent if symbol not in current]
    return set(kept + newest[: cap - len(kept)])
