"""create_app(): the one place the app is assembled, as named steps in the order they depend on each other.

The package itself (``opitios/__init__.py``) imports nothing: gunicorn's master imports
``opitios.gunicorn_worker`` before any worker has let gevent patch the standard library.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Mapping
from typing import Any

from flask import Flask, Request, current_app
from sqlalchemy import Engine

from opitios import config, endpoints, extensions, logs, metrics, request_id, routes
from opitios.access import auth, body_limit, hygiene
from opitios.access.hygiene import SecuredResponse
from opitios.access.keys import KeyVerifier
from opitios.access.limits import bind_limiter, client_limiter
from opitios.cache import CacheStore
from opitios.db import database_url, make_engine
from opitios.endpoints import Endpoint
from opitios.error_log import ErrorLogWriter
from opitios.errors import register_error_handlers
from opitios.extensions import Extensions
from opitios.jsonio import OrjsonProvider
from opitios.redaction import redactor
from opitios.registry import Serving, available
from opitios.runtime.refresh import RuntimeConfig
from opitios.services import Services
from opitios.services.cached import Protection
from opitios.shared_redis import SharedRedis
from opitios.stream.board import stream_report
from opitios.stream.interest import Interest
from opitios.stream.metrics import StreamCollector
from opitios.upstream.breaker import Circuit
from opitios.upstream.budget import UpstreamBudget
from opitios.upstream.flight import SingleFlight
from opitios.upstream.gate import UpstreamGate
from opitios.version import __version__

# Request bodies larger than this are refused with 413 before they are read.
MAX_BODY_BYTES = 64 * 1024

log = logging.getLogger(__name__)


def create_app(overrides: Mapping[str, Any] | None = None, *, connect: bool = True) -> Flask:
    """Build the application: settings, storage, protection, services, request hooks, routes, error handlers.

    ``overrides`` take the place of environment variables of the same name
    (``None`` unsets one); any other key goes into ``app.config`` as it is.
    ``connect=False`` builds it only to be described (``opitios openapi``): the
    database is never opened, no background thread starts, and the runtime
    configuration is the defaults.
    """
    app = Opitios("opitios", instance_relative_config=True)
    configure(app, overrides)
    engine, runtime = open_storage(app, connect)
    shared = shared_redis(app)
    protection = protect(app, runtime, shared)
    extensions.init_app(app, Extensions(
        engine=engine,
        runtime=runtime,
        error_log=ErrorLogWriter(engine),
        redis=shared,
        protection=protection,
        serving=Serving(app.config, runtime, lambda provider: Services.build(provider, protection)),
        keys=KeyVerifier(engine, lambda: runtime.section("runtime")["config_refresh_seconds"]),
        limiter=client_limiter(app, runtime, shared),
    ))
    register_request_hooks(app)
    routes.register_blueprints(app)
    bind_limiter(app)  # after the blueprints it limits and authentication's hook, which finds the client
    register_error_handlers(app)
    register_metrics(app)
    if connect:
        start_background(app)
        announce(app)
    return app


class OpitiosRequest(Request):
    """Flask's request, with what several hooks ask of it worked out once: its id and its route's declaration."""

    @functools.cached_property
    def id(self) -> str:
        """The request id (``X-Request-ID``): the client's when it is sane, else a new one."""
        return request_id.chosen_request_id(self.environ.get("HTTP_X_REQUEST_ID", ""))

    @functools.cached_property
    def declared(self) -> Endpoint | None:
        """What the matched route declares; None without a route (a 404, a 405) or a declaration."""
        endpoint = self.endpoint
        return endpoints.of(current_app.view_functions.get(endpoint)) if endpoint else None


class Opitios(Flask):
    """Flask, with our request class (``OpitiosRequest``), answers that carry the security headers from the
    start (``SecuredResponse``), and each hook checked once.

    Flask asks, for every hook and the view of every request, whether the function is a coroutine
    function (``ensure_sync``): a question whose answer never changes, and about a twentieth of a
    cached quote's time in the app (eight hooks and the view). It is answered once per function here.
    """

    request_class = OpitiosRequest
    response_class = SecuredResponse

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._synced: dict[Any, Any] = {}

    def ensure_sync(self, func):
        synced = self._synced.get(func)
        if synced is None:
            synced = self._synced[func] = super().ensure_sync(func)
        return synced


def configure(app: Flask, overrides: Mapping[str, Any] | None) -> None:
    """Settings from the environment (``overrides`` first), logging, JSON, and the secrets no log may show."""
    overrides = dict(overrides or {})
    env = dict(os.environ)
    for name in list(overrides):
        if name in config.SETTING_NAMES:
            value = overrides.pop(name)
            if value is None:
                env.pop(name, None)
            else:
                env[name] = str(value)
    app.config.update(config.settings_from_env(env))
    logs.configure(app.config["OPITIOS_LOG_LEVEL"])
    app.config.update(MAX_CONTENT_LENGTH=MAX_BODY_BYTES)
    app.config.update(overrides)
    redactor.add_secrets(config.secret_values(app.config))
    app.json = OrjsonProvider(app)


def open_storage(app: Flask, connect: bool) -> tuple[Engine, RuntimeConfig]:
    """The database, and the runtime configuration read from it."""
    engine = make_engine(database_url(app.config["DATABASE_URL"]))
    runtime = RuntimeConfig(engine, available)
    if connect:
        runtime.refresh()  # once now, so the first request (and the provider chosen) already sees the operator's settings
    return engine, runtime


def shared_redis(app: Flask) -> SharedRedis | None:
    """The Redis that cache, claims, budget, circuit and client limits share across workers; None without REDIS_URL."""
    url = app.config["REDIS_URL"]
    if not url:
        return None
    return SharedRedis(url, max_connections=app.config["OPITIOS_WORKER_CONNECTIONS"], prefix=app.config["OPITIOS_REDIS_PREFIX"])


def protect(app: Flask, runtime: RuntimeConfig, shared: SharedRedis | None) -> Protection:
    """Cache, single-flight, budget and circuit: shared through Redis when there is one."""
    timeout = app.config["OPITIOS_UPSTREAM_TIMEOUT"]
    budget = UpstreamBudget(shared, workers=app.config["OPITIOS_WORKERS"])
    flight = SingleFlight(shared, lease_seconds=timeout + 1)
    circuit = Circuit(shared, flight, lambda: runtime.section("upstream"))  # its half-open probe is a claim
    return Protection(
        store=CacheStore(shared),
        flight=flight,
        gate=UpstreamGate(budget, circuit, runtime, timeout),
        config=runtime,
        wait_seconds=timeout + 1,
        interest=Interest(shared) if shared else None,
    )


def register_request_hooks(app: Flask) -> None:
    """Flask runs before-request hooks in the order they are registered (after-request hooks the other way)."""
    request_id.init_app(app)  # the answer's X-Request-ID (the id is chosen when first used: a log line, an error)
    logs.init_app(app)
    body_limit.init_app(app)  # the size decision before any authentication or limiter work
    hygiene.init_app(app)  # merged slashes, no redirects, CORS preflights: before authentication
    auth.init_app(app)  # the client, which the limiter (bound after this) counts against


def register_metrics(app: Flask) -> None:
    serving = extensions.of(app).serving
    mode = "paper" if app.config["ALPACA_PAPER"] else "live"
    metrics.init_app(app, __version__, serving.provider_name, mode, logs.url_rule,
                     collectors=(StreamCollector(lambda: stream_report(app)),))


def start_background(app: Flask) -> None:
    """The runtime configuration's refresh and the error-log writer (refresh-ahead starts with the services)."""
    parts = extensions.of(app)
    parts.runtime.start()
    parts.error_log.start()


def stop_background(app: Flask) -> None:
    """Stop the app's background threads (configuration, limit sync, refresh-ahead, market clock, error log)
    and close its database and Redis connections."""
    parts = extensions.of(app)
    parts.runtime.stop()
    parts.limiter.stop()
    parts.services.cached.ahead.stop()
    parts.services.clock.stop()
    parts.error_log.flush(timeout=2)
    parts.error_log.stop()
    parts.engine.dispose()
    if parts.redis is not None:
        parts.redis.close()


def announce(app: Flask) -> None:
    """What an operator must not miss in the log: demo data, no credentials, live trading."""
    described = extensions.of(app).services.provider.describe()
    if app.config["OPITIOS_DEMO"]:
        log.warning("DEMO MODE: upstream is the offline sandbox at %s; its data is synthetic", described.get("data_url"))
    if not described.get("configured"):
        log.warning("no upstream credentials: market-data routes answer 503 UPSTREAM_NOT_CONFIGURED")
    if not app.config["ALPACA_PAPER"]:
        log.warning("LIVE TRADING: ALPACA_PAPER=false and OPITIOS_ALLOW_LIVE_TRADING=true; orders use real money")
