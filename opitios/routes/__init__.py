"""Blueprints, one per resource; each route declares its facts (routes/declare.py) and calls one service method."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Flask

from opitios import extensions

if TYPE_CHECKING:
    from opitios.services import Services

API_PREFIX = "/api/v1"


def services() -> Services:
    """The current app's services: the routes' one way to them (the services themselves import no Flask)."""
    return extensions.current().services


def register_blueprints(app: Flask) -> None:
    # Imported here: each blueprint's module imports services() from this package.
    from opitios.routes import docs, ops, options, stocks, trading

    for blueprint in (stocks.bp, options.bp, trading.bp, ops.bp, docs.bp):
        app.register_blueprint(blueprint, url_prefix=API_PREFIX)
