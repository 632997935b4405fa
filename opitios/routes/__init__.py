"""Blueprints, one per resource; each route declares its facts (routes/declare.py) and calls one service method."""

from __future__ import annotations

from flask import Flask

from opitios.routes import docs, ops, options, stocks, trading

API_PREFIX = "/api/v1"


def register_blueprints(app: Flask) -> None:
    for blueprint in (stocks.bp, options.bp, trading.bp, ops.bp, docs.bp):
        app.register_blueprint(blueprint, url_prefix=API_PREFIX)
