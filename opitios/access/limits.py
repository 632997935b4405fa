"""Per-client rate limits (Flask-Limiter): per API key, or per address for anonymous public access.

With ``REDIS_URL`` set, each worker counts in its own memory and reconciles
with Redis in the background every ``rate_limits.sync_ms`` (``synced_counts``),
so limits hold across workers and instances within a documented overshoot, at
no Redis round trip per request. Without Redis, each worker counts alone. The
limits come from the runtime configuration on every request; what a request
costs, and whether it counts at all, from its route's declaration (a batch of N
distinct symbols costs N; a route that needs no key is not counted).
"""

from __future__ import annotations

from flask import Flask, Response, g
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from opitios import endpoints, extensions
from opitios.access.synced_counts import SyncedStorage
from opitios.errors import ApiError
from opitios.routes.declare import arguments
from opitios.runtime.refresh import RuntimeConfig
from opitios.shared_redis import SharedRedis


def client_key() -> str:
    client = g.get("client")
    return f"key:{client.prefix}" if client is not None else f"ip:{get_remote_address()}"


def client_limits() -> str:
    limits = extensions.current().runtime.section("rate_limits")
    if g.get("client") is not None:
        return f"{limits['keyed_per_hour']}/hour;{limits['keyed_per_minute']}/minute"
    return f"{limits['anonymous_per_hour']}/hour"


def request_cost() -> int:
    """What the route's arguments make it cost: a batch, its distinct valid symbols; anything else, 1.

    A request with invalid arguments costs 1: its view then refuses it with the same error.
    """
    declared = endpoints.current()
    if declared is None or declared.batch is None:
        return 1
    try:
        return max(1, len(arguments(declared)[declared.batch]))
    except ApiError:
        return 1


def _open_route() -> bool:
    """Routes that need no API key (operations, documents, anything unrouted) count against no client limit."""
    declared = endpoints.current()
    return declared is None or declared.scope is None


def client_limiter(app: Flask, runtime: RuntimeConfig, shared: SharedRedis | None) -> Limiter:
    """The limiter, not yet bound: ``bind_limiter`` binds it once authentication's hook is registered."""
    return Limiter(
        client_key,
        storage_uri=f"synced+{shared.url}" if shared is not None else "memory://",
        # The worker's Redis (its one bounded pool and its view of Redis's health), the share each
        # worker may spend while Redis is away, and the sync interval in force.
        storage_options={
            "shared": shared,
            "workers": app.config["OPITIOS_WORKERS"],
            "sync_seconds": lambda: runtime.section("rate_limits")["sync_ms"] / 1000,
        } if shared is not None else {},
        key_prefix=shared.key("limits") if shared is not None else "limits",
        # A refused hit costs nothing and window edges allow no double burst.
        strategy="sliding-window-counter",
        # Flask-Limiter writes a retry time with its X-RateLimit-* headers on every answer, and
        # Retry-After is the contract's for 429 and 503 only: the headers are written below instead,
        # and the error handler sets Retry-After for this limit's 429.
        headers_enabled=False,
        # The storage rides out a Redis outage itself, so any exception here is a bug of ours: it must
        # surface (a 500 in the envelope, logged), never switch the limiter to other counts or off.
        in_memory_fallback_enabled=False,
        swallow_errors=False,
    )


def bind_limiter(app: Flask) -> None:
    """Count clients, and write their limit's headers; after the blueprints, and after authentication's hook,
    which finds the client."""
    limiter = extensions.of(app).limiter
    limiter.init_app(app)
    # One limit per client, shared by every route that needs a key; the others are exempt. (Flask-Limiter's
    # application limits would say the same, at more work per request than a blueprint's limit.)
    shared = limiter.shared_limit(client_limits, scope="clients", cost=request_cost, exempt_when=_open_route)
    for blueprint in app.blueprints.values():
        shared(blueprint)
    app.after_request(lambda response: _limit_headers(limiter, response))


def _limit_headers(limiter: Limiter, response: Response) -> Response:
    """X-RateLimit-Limit, -Remaining and -Reset of the client's limit, on every answer of a limited route."""
    current = limiter.current_limit
    if current is not None:
        response.headers["X-RateLimit-Limit"] = str(current.limit.amount)
        response.headers["X-RateLimit-Remaining"] = str(current.remaining)
        response.headers["X-RateLimit-Reset"] = str(current.reset_at)
    return response


def stop_limiter(limiter: Limiter) -> None:
    """Send this worker's last counts and stop its background sync (when it has one)."""
    if isinstance(limiter.storage, SyncedStorage):
        limiter.storage.stop()
