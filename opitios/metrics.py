"""Prometheus metrics: what opitios does, counted once per process and added up across gunicorn workers.

With ``PROMETHEUS_MULTIPROC_DIR`` set (gunicorn.conf.py sets it before any
worker starts), every worker writes its values to files there and
``GET /metrics`` adds them up, whichever worker answers. Labels stay
bounded: data classes, operations, codes, URL rules, the HTTP methods we
serve; never a symbol, a key, a request id or a path a client made up.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable

from flask import Flask, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from opitios.endpoints import DOCUMENT, Endpoint

CACHE = Counter("opitios_cache_requests", "Cache lookups by data class and result (hit, miss, stale)", ["data_class", "result"])
UPSTREAM = Counter("opitios_upstream_requests", "Upstream calls by operation and outcome (ok or an error code)", ["operation", "outcome"])
UPSTREAM_SECONDS = Histogram(
    "opitios_upstream_request_duration_seconds", "Upstream call latency by operation", ["operation"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
BUDGET_REMAINING = Gauge("opitios_upstream_budget_remaining", "Tokens left in the upstream request budget", multiprocess_mode="livemin")
BUDGET_REJECTIONS = Counter("opitios_upstream_budget_rejections", "Upstream calls not made because the budget was spent")
CIRCUIT_STATE = Gauge("opitios_circuit_state", "Upstream circuit: 0 closed, 1 half-open, 2 open", multiprocess_mode="livemax")
CIRCUIT_TRANSITIONS = Counter("opitios_circuit_transitions", "Circuit state changes, by the state entered", ["state"])
SINGLEFLIGHT_WAITS = Counter("opitios_singleflight_waits", "Requests that waited for another's upstream call", ["data_class"])
CONFIG_RELOADS = Counter("opitios_config_reloads", "Runtime configuration changes applied")
CONFIG_REJECTED = Counter("opitios_config_rejected_edits", "api_configurations row versions refused by validation")
ERROR_LOG_ROWS = Counter("opitios_error_log_rows", "error_logs rows written or dropped", ["result"])
RATE_LIMITED = Counter("opitios_rate_limit_rejections", "Requests refused by a client rate limit")
RATE_LIMIT_SYNCED_AT = Gauge(
    "opitios_rate_limit_synced_timestamp_seconds",
    "Unix time at which the live worker that synced longest ago last reconciled its client-limit counts with Redis",
    multiprocess_mode="livemin",
)
AUTH_FAILURES = Counter("opitios_auth_failures", "Requests refused for their API key, by code", ["code"])
REDIS_FAILURES = Counter("opitios_redis_failures", "Redis operations that failed (each switches the worker to local mode)")
CACHE_DEGRADED = Gauge("opitios_cache_degraded", "1 while a worker serves without Redis", multiprocess_mode="livemax")
BUILD_INFO = Gauge("opitios_build_info", "Version, provider and paper/live of the running service",
                   ["version", "provider", "mode"], multiprocess_mode="max")


SCRAPE = Endpoint(
    DOCUMENT, "Prometheus metrics, all workers added up", media_type="text/plain",
    description="Open like health: bind it to an internal interface or protect it at the proxy.",
)


def multiprocess() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
# The methods our routes answer; any other a client sends is counted as "other", so none adds a series.
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
SCRAPE_RULE = "/metrics"  # the scrape itself is not counted


class HttpMetrics:
    """WSGI middleware: each request's duration and count, by method, URL rule and status.

    ``rule_of(environ)`` is the URL rule the app served the request by (None when none matched),
    the status the one the app started its answer with. A request costs a dictionary look-up for
    its label set and the two updates; ``/metrics`` itself is not counted.
    """

    def __init__(self, app: Callable, registry: CollectorRegistry, rule_of: Callable[[dict], str | None]):
        self.app = app
        self._rule_of = rule_of
        self._durations = Histogram("opitios_http_request_duration_seconds", "HTTP request duration in seconds",
                                    ["method", "url_rule", "status"], registry=registry, buckets=HTTP_BUCKETS)
        self._totals = Counter("opitios_http_request", "HTTP requests", ["method", "status"], registry=registry)
        self._children: dict[tuple[str, str, str], tuple] = {}  # label values → (duration, total) series

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        started = time.perf_counter()
        statuses = []

        def start(status: str, headers: list, exc_info=None):
            statuses.append(status)
            return start_response(status, headers, exc_info)

        body = self.app(environ, start)
        rule = self._rule_of(environ)
        if statuses and rule != SCRAPE_RULE:
            self._series(environ.get("REQUEST_METHOD", ""), str(rule), statuses[-1][:3], time.perf_counter() - started)
        return body

    def _series(self, method: str, rule: str, status: str, seconds: float) -> None:
        labels = (method if method in HTTP_METHODS else "other", rule, status)
        series = self._children.get(labels)
        if series is None:
            series = self._children[labels] = (
                self._durations.labels(method=labels[0], url_rule=rule, status=status),
                self._totals.labels(method=labels[0], status=status),
            )
        series[0].observe(seconds)
        series[1].inc()


def init_app(app: Flask, version: str, provider: str, mode: str, rule_of: Callable[[dict], str | None],
             collectors: tuple = ()) -> None:
    """HTTP metrics by URL rule (``rule_of(environ)``), build info, and ``GET /metrics`` (open, outside /api/v1).

    ``collectors`` report values that live outside the process (the stream's, in Redis) at each scrape.
    """
    # A registry per app: the HTTP metrics are made per app, and a test session makes many apps.
    registry = CollectorRegistry(auto_describe=True)
    app.wsgi_app = HttpMetrics(app.wsgi_app, registry, rule_of)
    BUILD_INFO.labels(version=version, provider=provider, mode=mode).set(1)
    outside = CollectorRegistry(auto_describe=False)
    for collector in collectors:
        outside.register(collector)

    def scrape() -> Response:
        if multiprocess():
            collected = CollectorRegistry()
            MultiProcessCollector(collected)
            body = generate_latest(collected)
        else:
            body = generate_latest(REGISTRY) + generate_latest(registry)
        body += generate_latest(outside)
        return Response(body, mimetype=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})

    app.add_url_rule(SCRAPE_RULE, "metrics", SCRAPE.describe(scrape))
