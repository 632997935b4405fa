"""Per-client rate limits (Flask-Limiter): per API key, or per address for anonymous public access.

With ``REDIS_URL`` set, each worker counts in its own memory and reconciles
with Redis in the background every ``rate_limits.sync_ms`` (``synced_counts``),
so limits hold across workers and instances within a documented overshoot, at
no Redis round trip per request. Without Redis, each worker counts alone. The
limits come from the runtime configuration on every request; a batch of N
symbols costs N.
"""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, g, request
from flask_limiter import HeaderNames, Limiter
from flask_limiter.util import get_remote_address

from opitios.access.synced_counts import SyncedStorage
from opitios.schemas.common import MAX_SYMBOLS
from opitios.shared_redis import SharedRedis

# Endpoints whose cost is the number of symbols asked for, and where those symbols are.
BATCH_SYMBOLS = {
    "stocks.quotes_batch": ("json", "symbols"),
    "stocks.quotes": ("args", "symbols"),
    "options.quotes_batch": ("json", "option_symbols"),
}


def client_key() -> str:
    client = g.get("client")
    return f"key:{client.prefix}" if client is not None else f"ip:{get_remote_address()}"


def client_limits() -> str:
    limits = current_app.extensions["opitios.config"].section("rate_limits")
    if g.get("client") is not None:
        return f"{limits['keyed_per_hour']}/hour;{limits['keyed_per_minute']}/minute"
    return f"{limits['anonymous_per_hour']}/hour"


def request_cost() -> int:
    """1, or the number of symbols a batch asks for (bounded like the batch itself)."""
    where = BATCH_SYMBOLS.get(request.endpoint)
    if where is None:
        return 1
    source, name = where
    if source == "json":
        body = request.get_json(silent=True, force=True)
        symbols = body.get(name) if isinstance(body, dict) else None
        count = len(symbols) if isinstance(symbols, list) else 1
    else:
        count = len([part for part in request.args.get(name, "").split(",") if part.strip()])
    return max(1, min(count, MAX_SYMBOLS))


def init_limiter(app: Flask, shared: SharedRedis | None, limited: list[Blueprint]) -> Limiter:
    runtime = app.extensions["opitios.config"]
    limiter = Limiter(
        client_key,
        app=app,
        storage_uri=f"synced+{shared.url}" if shared is not None else "memory://",
        # The worker's Redis (its one bounded pool and its view of Redis's health), the share each
        # worker may spend while Redis is away, and the sync interval in force.
        storage_options={
            "shared": shared,
            "workers": app.config["OPITIOS_WORKERS"],
            "sync_seconds": lambda: runtime.section("rate_limits")["sync_ms"] / 1000,
        } if shared is not None else {},
        key_prefix="opitios:v1:limits",
        # A refused hit costs nothing and window edges allow no double burst.
        strategy="sliding-window-counter",
        headers_enabled=True,
        # Retry-After is the contract's for 429 and 503 only; the error handler sets it for this
        # limit's 429, and the upstream's 429/503 keep their own.
        header_name_mapping={HeaderNames.RETRY_AFTER: "X-RateLimit-Retry-After"},
        in_memory_fallback_enabled=True,
        swallow_errors=True,
    )
    shared = limiter.shared_limit(client_limits, scope="clients", cost=request_cost)
    for blueprint in limited:
        shared(blueprint)
    return limiter


def stop_limiter(limiter: Limiter) -> None:
    """Send this worker's last counts and stop its background sync (when it has one)."""
    if isinstance(limiter.storage, SyncedStorage):
        limiter.storage.stop()
