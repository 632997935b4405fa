"""Headers every response carries, CORS and its preflights (off unless configured), and the trusted-proxy count."""

from __future__ import annotations

from flask import Flask, Response, current_app, request
from flask_cors import CORS
from werkzeug.middleware.proxy_fix import ProxyFix

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
# Headers a browser client may read from a cross-origin answer, when CORS is on.
EXPOSED = [
    "X-Request-ID", "X-Cache-Status", "X-Data-Source", "X-Data-Freshness", "X-Error-Code", "ETag",
    "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "Retry-After", "WWW-Authenticate",
]


# What a browser client may send and do cross-origin, and how long it may keep a preflight's answer.
CORS_METHODS = ["GET", "HEAD", "POST", "DELETE", "OPTIONS"]
CORS_REQUEST_HEADERS = ["X-API-Key", "Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID", "If-None-Match"]
PREFLIGHT_MAX_AGE = 600


def _answer_preflight() -> Response | None:
    """A CORS preflight on a route we serve: 204 here, before authentication and the client limit.

    Browsers send a preflight without credentials, by design, so asking it for a key refuses
    every cross-origin call; counting it would charge a client twice. flask-cors adds its
    headers on the way out, for an allowed origin only.
    """
    if request.method != "OPTIONS" or request.routing_exception is not None:
        return None
    if "Origin" not in request.headers or "Access-Control-Request-Method" not in request.headers:
        return None
    return current_app.response_class(status=204)


def _secure(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    # Flask-Limiter writes its retry time on every answer; Retry-After proper is set where it belongs.
    response.headers.pop("X-RateLimit-Retry-After", None)
    return response


def init_app(app: Flask) -> None:
    """Register before the rate limiter, so these run after it has written its headers."""
    app.after_request(_secure)
    proxies = app.config["OPITIOS_TRUSTED_PROXIES"]
    if proxies:
        # Only then is X-Forwarded-For believed, and only as many hops as there are proxies.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)
    origins = app.config["OPITIOS_CORS_ORIGINS"]
    if origins:
        app.before_request(_answer_preflight)  # before auth.init_app's hook and the limiter's
        CORS(
            app, resources={r"/api/*": {"origins": origins}}, expose_headers=EXPOSED, methods=CORS_METHODS,
            allow_headers=CORS_REQUEST_HEADERS, max_age=PREFLIGHT_MAX_AGE,
        )
