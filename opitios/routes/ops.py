"""Operations: liveness and readiness (CONTRACT §4, operations); no key, no upstream call."""

from __future__ import annotations

import time

from flask import Blueprint, current_app

from opitios import extensions
from opitios import openapi_examples as examples
from opitios.endpoints import OPERATIONS
from opitios.errors import ApiError
from opitios.extensions import services
from opitios.routes.declare import declare
from opitios.schemas.ops import HealthSchema, ReadySchema
from opitios.stream.board import stream_report
from opitios.version import __version__

bp = Blueprint("ops", __name__)

_STARTED = time.monotonic()
# Redis in use / away (this worker serves from its own cache) / never configured.
CACHE_STATES = {"shared": "ok", "degraded": "degraded", "local": "local"}


def _upstream_kind() -> str:
    if current_app.config["OPITIOS_DEMO"]:
        return "sandbox (offline demo: synthetic data, not real market data)"
    overridden = current_app.config["ALPACA_DATA_URL"] or current_app.config["ALPACA_TRADING_URL"]
    return "alpaca-compatible (URL override)" if overridden else "alpaca"


@bp.get("/health")
@declare(OPERATIONS, "Liveness: no I/O, no upstream call", HealthSchema, answer=examples.plain(examples.HEALTH))
def health():
    provider = services().provider
    described = provider.describe()
    return {
        "status": "ok",
        "version": __version__,
        "provider": provider.name,
        "mode": "paper" if described.get("paper") else "live",
        "upstream": {"kind": _upstream_kind(), **described},
        "uptime_seconds": round(time.monotonic() - _STARTED, 3),
    }


@bp.get("/health/ready")
@declare(OPERATIONS, "Readiness: upstream credentials and the database; cache, circuit and configuration either way",
         ReadySchema, codes=("SERVICE_NOT_READY",), answer=examples.plain(examples.READY),
         description="503 `SERVICE_NOT_READY` names the failing checks and carries this same report in `error.details`.")
def ready():
    """Ready when upstream credentials exist and the database answers; the configuration in force either way."""
    parts = extensions.current()
    config = parts.runtime
    checks = {
        "upstream_credentials": "ok" if services().provider.describe().get("configured") else "missing",
        "database": config.database,
    }
    protection = parts.protection
    report = {
        "checks": checks,
        # Neither makes the worker unready: it serves from its own cache while Redis is away,
        # and stale answers or clear errors while the circuit is open.
        "cache": CACHE_STATES[protection.store.mode],
        "circuit": protection.gate.circuit.state(),
        "configuration": config.status(),
        "error_log": parts.error_log.status(),
        # Not a check either: without the stream, hot quotes are served by REST TTLs and refresh-ahead.
        "stream": stream_report(current_app),
    }
    failing = sorted(name for name, state in checks.items() if state != "ok")
    if failing:
        raise ApiError("SERVICE_NOT_READY", f"Not ready: {', '.join(failing)}", details=report)
    return {"status": "ready", **report}
