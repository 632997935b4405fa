"""opitios: a market-data and trading gateway in front of Alpaca that serves real upstream data only."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # importing the package stays cheap: gunicorn's master imports opitios.gunicorn_worker
    from flask import Flask

__version__ = "0.1.0"

# Request bodies larger than this are refused with 413 before they are read.
MAX_BODY_BYTES = 64 * 1024

log = logging.getLogger(__name__)


def create_app(overrides: Mapping[str, Any] | None = None, *, connect: bool = True) -> Flask:
    """Build the application: settings, provider, services, blueprints, error handlers.

    ``overrides`` take the place of environment variables of the same name
    (``None`` unsets one); any other key goes into ``app.config`` as it is.
    ``connect=False`` builds it only to be described (``opitios openapi``): the
    database is never opened, no background thread starts, and the runtime
    configuration is the defaults.
    """
    from flask import Flask

    from opitios import config, errors, logs, metrics, request_id, routes
    from opitios.access import auth, body_limit, hygiene
    from opitios.access.keys import KeyVerifier
    from opitios.access.limits import init_limiter
    from opitios.db import database_url, make_engine
    from opitios.error_log import ErrorLogWriter
    from opitios.jsonio import OrjsonProvider
    from opitios.redaction import redactor
    from opitios.registry import available
    from opitios.runtime.refresh import RuntimeConfig
    from opitios.stream.board import stream_report
    from opitios.stream.metrics import StreamCollector

    overrides = dict(overrides or {})
    env = dict(os.environ)
    for name in list(overrides):
        if name in config.SETTING_NAMES:
            value = overrides.pop(name)
            if value is None:
                env.pop(name, None)
            else:
                env[name] = str(value)

    app = Flask(__name__, instance_relative_config=True)
    app.config.update(config.settings_from_env(env))
    logs.configure(app.config["OPITIOS_LOG_LEVEL"])
    app.config.update(MAX_CONTENT_LENGTH=MAX_BODY_BYTES)
    app.config.update(overrides)
    redactor.add_secrets(config.secret_values(app.config))
    app.json = OrjsonProvider(app)

    engine = make_engine(database_url(app.config["DATABASE_URL"]))
    app.extensions["opitios.engine"] = engine
    runtime = RuntimeConfig(engine, available)
    app.extensions["opitios.config"] = runtime
    app.extensions["opitios.error_log"] = ErrorLogWriter(engine)
    if connect:
        runtime.refresh()  # once now, so the first request already sees the operator's settings
    app.extensions["opitios.protection"] = _protection(app, runtime)
    _serve_with_configured_provider(app, runtime.section("upstream"))
    runtime.on_change(lambda sections: _serve_with_configured_provider(app, sections["upstream"]))
    if connect:
        runtime.start()
        app.extensions["opitios.error_log"].start()

    app.extensions["opitios.keys"] = KeyVerifier(engine, lambda: runtime.section("runtime")["config_refresh_seconds"])
    request_id.init_app(app)
    logs.init_app(app)
    body_limit.init_app(app)  # the size decision before any authentication or limiter work
    hygiene.init_app(app)  # both before the limiter: its hooks must see the client, and
    auth.init_app(app)  # the hygiene hook must run after it has written its headers
    routes.register_blueprints(app)
    app.extensions["opitios.limiter"] = init_limiter(app, app.extensions["opitios.redis"], routes.client_blueprints())
    errors.register_error_handlers(app)
    metrics.init_app(app, __version__, app.extensions["opitios.provider_name"], "paper" if app.config["ALPACA_PAPER"] else "live",
                     collectors=(StreamCollector(lambda: stream_report(app)),))
    if connect:
        _announce(app)
    return app


def _protection(app: Flask, runtime):
    """Cache, single-flight, budget and circuit: shared through Redis when REDIS_URL is set."""
    from opitios.cache import CacheStore
    from opitios.services.cached import Protection
    from opitios.shared_redis import SharedRedis
    from opitios.stream.interest import Interest
    from opitios.upstream.breaker import Circuit
    from opitios.upstream.budget import UpstreamBudget
    from opitios.upstream.flight import SingleFlight
    from opitios.upstream.gate import UpstreamGate

    url = app.config["REDIS_URL"]
    shared = (
        SharedRedis(url, max_connections=app.config["OPITIOS_WORKER_CONNECTIONS"], prefix=app.config["OPITIOS_REDIS_PREFIX"])
        if url
        else None
    )
    app.extensions["opitios.redis"] = shared
    timeout = app.config["OPITIOS_UPSTREAM_TIMEOUT"]
    budget = UpstreamBudget(shared, workers=app.config["OPITIOS_WORKERS"])
    return Protection(
        store=CacheStore(shared),
        flight=SingleFlight(shared, lease_seconds=timeout + 1),
        gate=UpstreamGate(budget, Circuit(shared), runtime, timeout),
        config=runtime,
        wait_seconds=timeout + 1,
        interest=Interest(shared) if shared else None,
    )


def stop_background(app: Flask) -> None:
    """Stop the app's background threads and close its database and Redis connections."""
    from opitios.access.limits import stop_limiter

    app.extensions["opitios.config"].stop()
    stop_limiter(app.extensions["opitios.limiter"])
    app.extensions["opitios"].cached.ahead.stop()
    app.extensions["opitios.error_log"].flush(timeout=2)
    app.extensions["opitios.error_log"].stop()
    app.extensions["opitios.engine"].dispose()
    if app.extensions.get("opitios.redis") is not None:
        app.extensions["opitios.redis"].close()


def _serve_with_configured_provider(app: Flask, upstream: Mapping[str, Any]) -> None:
    """(Re)build the services when the runtime provider (or, unset, OPITIOS_PROVIDER) differs from the one serving."""
    from opitios.registry import build_provider
    from opitios.services import Services

    name = upstream["provider"] or app.config["OPITIOS_PROVIDER"]
    serving = app.extensions.get("opitios.provider_name")
    if serving == name:
        return
    provider = build_provider(name, app.config)
    app.extensions["opitios"] = Services.build(provider, app.extensions["opitios.protection"])
    app.extensions["opitios.provider_name"] = name
    if serving is not None:
        log.warning("provider switched from %s to %s by the runtime configuration", serving, name)


def _announce(app: Flask) -> None:
    described = app.extensions["opitios"].provider.describe()
    if app.config["OPITIOS_DEMO"]:
        log.warning("DEMO MODE: upstream is the offline sandbox at %s; its data is synthetic", described.get("data_url"))
    if not described.get("configured"):
        log.warning("no upstream credentials: market-data routes answer 503 UPSTREAM_NOT_CONFIGURED")
    if not app.config["ALPACA_PAPER"]:
        log.warning("LIVE TRADING: ALPACA_PAPER=false and OPITIOS_ALLOW_LIVE_TRADING=true; orders use real money")
