"""Per-client rate limits, counted by the ``limits`` package: per API key, or per address for anonymous access.

With ``REDIS_URL`` set, each worker counts in its own memory and reconciles
with Redis in the background every ``rate_limits.sync_ms`` (``synced_counts``,
a ``limits`` storage), so limits hold across workers and instances within a
documented overshoot, at no Redis round trip per request. Without Redis, each
worker counts alone. The limits come from the runtime configuration on every
request; what a request costs, and whether it counts at all, from its route's
declaration (a batch of N distinct symbols costs N; a route that needs no key
is not counted).

One hook asks ``limits``' sliding-window-counter strategy directly, through
``EveryLimit``, which asks about all of a client's limits at once: a request
is counted on every limit or on none. Flask-Limiter, the glue we used before,
resolved its blueprint limits, exemptions and meta limits and parsed the limit
string again on every request: 15 % of a cached answer's time in make bench's
profile, for one shared limit per client.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from flask import Flask, Response, g, request
from limits import RateLimitItem, WindowStats, parse_many
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter

from opitios import endpoints, extensions
from opitios.access.synced_counts import Reading, SyncedStorage
from opitios.endpoints import Endpoint
from opitios.errors import ApiError
from opitios.routes.declare import arguments
from opitios.runtime.refresh import RuntimeConfig
from opitios.shared_redis import SharedRedis

if TYPE_CHECKING:
    from opitios.access.keys import Client

SCOPE = "clients"  # one limit per client, shared by every route that needs a key
MAX_KNOWN_CLIENTS = 4096  # clients whose counter keys a worker keeps made; all are forgotten when more come


def client_key(client: Client | None) -> str:
    return f"key:{client.prefix}" if client is not None else f"ip:{request.remote_addr or '127.0.0.1'}"


def client_limits(limits: Mapping[str, Any], keyed: bool) -> str:
    """The limits of a client with a key (``keyed``) or without, in ``limits``' notation."""
    if keyed:
        return f"{limits['keyed_per_hour']}/hour;{limits['keyed_per_minute']}/minute"
    return f"{limits['anonymous_per_hour']}/hour"


def request_cost(declared: Endpoint) -> int:
    """What the route's arguments make it cost: a batch, its distinct valid symbols; anything else, 1.

    A request with invalid arguments costs 1: its view then refuses it with the same error.
    """
    if declared.batch is None:
        return 1
    try:
        return max(1, len(arguments(declared)[declared.batch]))
    except ApiError:
        return 1


class Counted(NamedTuple):
    """The limit a request's headers speak of (the one it broke, else the one of the shortest window), as it stood."""

    limit: RateLimitItem
    remaining: int
    reset_at: int  # Unix seconds


class EveryLimit(SlidingWindowCounterRateLimiter):
    """``limits``' sliding-window counter, asked about all of a client's limits at once.

    A hit is spent on every limit, or on none when one of them refuses it, and the stats of the
    shortest window (or of the limit that refused) come with the decision. With a storage that
    reads several windows at once (``SyncedStorage``) that is one call; with any other, ``limits``'
    own test, hit and stats, one limit after the other.
    """

    def __init__(self, storage: Storage):
        super().__init__(storage)
        self._keys: dict[tuple[str, ...], tuple[list[RateLimitItem], list[str]]] = {}  # identifiers → (items, keys)

    def hit_every(self, items: list[RateLimitItem], identifiers: tuple[str, ...],
                  cost: int = 1) -> tuple[RateLimitItem | None, WindowStats]:
        """``cost`` spent on each of ``items`` (the shortest window first), or on none: (the item that refused, or None; stats)."""
        acquire = getattr(self.storage, "acquire_sliding_window_entries", None)
        if acquire is None:
            return self._one_by_one(items, identifiers, cost)
        keys = self._keys_of(items, identifiers)
        refused, readings = acquire([(key, item.amount, item.get_expiry()) for item, key in zip(items, keys)], cost)
        if refused is None:
            return None, self._stats(items[0], readings[0])
        return items[refused], self._stats(items[refused], readings[refused])

    def _one_by_one(self, items: list[RateLimitItem], identifiers: tuple[str, ...],
                    cost: int) -> tuple[RateLimitItem | None, WindowStats]:
        for item in items:
            if not self.test(item, *identifiers, cost=cost):
                return item, self.get_window_stats(item, *identifiers)
        for item in items:
            self.hit(item, *identifiers, cost=cost)
        return None, self.get_window_stats(items[0], *identifiers)

    def _keys_of(self, items: list[RateLimitItem], identifiers: tuple[str, ...]) -> list[str]:
        """Each item's counter key (``key_for``), made once per client and list of limits in force."""
        known = self._keys.get(identifiers)
        if known is None or known[0] is not items:
            if len(self._keys) >= MAX_KNOWN_CLIENTS:
                self._keys.clear()
            known = self._keys[identifiers] = (items, [item.key_for(*identifiers) for item in items])
        return known[1]

    def _stats(self, item: RateLimitItem, reading: Reading) -> WindowStats:
        """What ``get_window_stats`` tells of ``reading``: what is left, and when the window next frees a hit."""
        previous_count, previous_expires_in, current_count, current_expires_in = reading
        now = time.time()
        weighted = self._weighted_count(item, previous_count, previous_expires_in, current_count)
        expiry = item.get_expiry()
        frees_in = [previous_expires_in % (expiry / previous_count)] if previous_count else []
        if current_count:
            frees_in.append(current_expires_in % expiry)
        return WindowStats(now + min(frees_in, default=0.0), max(0, item.amount - math.floor(weighted)))


class ClientLimiter:
    """Counts each client's requests against its limits, and writes the X-RateLimit-* headers."""

    def __init__(self, runtime: RuntimeConfig, storage: Storage):
        self.storage = storage
        self._runtime = runtime
        self._strategy = EveryLimit(storage)  # a refused hit costs nothing, no double burst
        self._parsed: dict[bool, tuple[Mapping[str, Any], list[RateLimitItem]]] = {}  # keyed → (section, limits)

    def limits(self, keyed: bool) -> list[RateLimitItem]:
        """A client's limits in force, the shortest window first; parsed again only when the section changes."""
        section = self._runtime.section("rate_limits")  # replaced, never changed, when the operator edits it
        parsed = self._parsed.get(keyed)
        if parsed is None or parsed[0] is not section:
            parsed = self._parsed[keyed] = (section, sorted(parse_many(client_limits(section, keyed))))
        return parsed[1]

    def check(self) -> None:
        """Count this request against every limit of its client; when one is spent it counts against none, a 429.

        Routes that need no API key (operations, documents, anything unrouted) count against no limit.
        """
        declared = endpoints.current()
        if declared is None or declared.scope is None:
            return
        client = g.get("client")
        limits = self.limits(client is not None)
        refused, stats = self._strategy.hit_every(limits, (client_key(client), SCOPE), request_cost(declared))
        reset_at = int(stats.reset_time + 1)
        g.client_limit = Counted(refused or limits[0], stats.remaining, reset_at)
        if refused is not None:
            raise ApiError("RATE_LIMIT_EXCEEDED", f"This client's rate limit is spent ({refused})",
                           retry_after=max(1, math.ceil(reset_at - time.time())))

    def headers(self, response: Response) -> Response:
        """X-RateLimit-Limit, -Remaining and -Reset of the client's limit, on every answer of a limited route."""
        counted = g.get("client_limit")
        if counted is not None:
            # Added, not set: nothing else writes these, and setting searches the answer's headers first.
            response.headers.add("X-RateLimit-Limit", str(counted.limit.amount))
            response.headers.add("X-RateLimit-Remaining", str(counted.remaining))
            response.headers.add("X-RateLimit-Reset", str(counted.reset_at))
        return response

    def stop(self) -> None:
        """Send this worker's last counts and stop its background sync (when it has one)."""
        if isinstance(self.storage, SyncedStorage):
            self.storage.stop()


def client_limiter(app: Flask, runtime: RuntimeConfig, shared: SharedRedis | None) -> ClientLimiter:
    """The limiter, not yet bound: ``bind_limiter`` binds it once authentication's hook is registered."""
    if shared is None:
        return ClientLimiter(runtime, MemoryStorage())
    sync_seconds: Callable[[], float] = lambda: runtime.section("rate_limits")["sync_ms"] / 1000  # noqa: E731
    # The worker's Redis (its one bounded pool and its view of Redis's health), the share each worker may
    # spend while Redis is away, the sync interval in force, and the deployment's namespace at the start
    # of every counter's key (``opitios:v1:limits:LIMITER/key:…``), where a key-prefix ACL covers it.
    storage = storage_from_string(
        f"synced+{shared.url}", shared=shared, workers=app.config["OPITIOS_WORKERS"], sync_seconds=sync_seconds,
        key_prefix=shared.key("limits"),
    )
    return ClientLimiter(runtime, storage)


def bind_limiter(app: Flask) -> None:
    """Count clients, and write their limit's headers; after authentication's hook, which finds the client."""
    limiter = extensions.of(app).limiter
    app.before_request(limiter.check)
    app.after_request(limiter.headers)
