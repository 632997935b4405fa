"""The app's shared objects, in one typed holder: built by create_app, found with ``of(app)`` or ``current()``.

One entry of ``app.extensions`` holds them all (the shape Flask gives its extensions), so
every reader names an attribute the type checker knows, never a string key of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import Flask, current_app

if TYPE_CHECKING:  # for the annotations only: every layer imports this module to find its objects
    from sqlalchemy import Engine

    from opitios.access.keys import KeyVerifier
    from opitios.access.limits import ClientLimiter
    from opitios.error_log import ErrorLogWriter
    from opitios.registry import Serving
    from opitios.runtime.refresh import RuntimeConfig
    from opitios.services import Services
    from opitios.services.cached import Protection
    from opitios.shared_redis import SharedRedis

_NAME = "opitios"


@dataclass
class Extensions:
    engine: Engine
    runtime: RuntimeConfig  # the runtime configuration in force, re-read from the database
    error_log: ErrorLogWriter
    redis: SharedRedis | None  # None without REDIS_URL: each worker on its own
    protection: Protection  # cache, single-flight, budget and circuit
    serving: Serving[Services]  # the services of the provider in force
    keys: KeyVerifier
    limiter: ClientLimiter  # the client limits, bound after authentication's hook
    described: tuple[str, dict] | None = None  # the OpenAPI description, and the runtime version it states

    @property
    def services(self) -> Services:
        return self.serving.current


def init_app(app: Flask, extensions: Extensions) -> None:
    app.extensions[_NAME] = extensions


def of(app: Flask) -> Extensions:
    return app.extensions[_NAME]


def current() -> Extensions:
    """The current app's."""
    return of(current_app)


def services() -> Services:
    """The current app's services: the routes' one way to them (the services themselves import no Flask)."""
    return current().services
