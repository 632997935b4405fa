"""Headers every response carries, CORS (off unless configured), and the trusted-proxy count."""

from __future__ import annotations

from flask import Flask, Response
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
        CORS(app, resources={r"/api/*": {"origins": origins}}, expose_headers=EXPOSED)
