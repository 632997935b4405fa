"""Paths with repeated slashes, headers every response carries, CORS and its preflights (off unless
configured), and the trusted-proxy count."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, request
from flask_cors import CORS
from werkzeug.datastructures import Headers
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import RequestRedirect

from opitios.errors import ApiError

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
_SLASHES = re.compile(r"/{2,}")
_REWRITTEN = frozenset({"location", "content-location"})  # headers Werkzeug makes absolute as it sends them


class MergedSlashes:
    """WSGI middleware: ``/api/v1//stocks/AAPL/quote`` is served as ``/api/v1/stocks/AAPL/quote``.

    Werkzeug would answer a 308 redirect with an HTML body instead. The path is rewritten before
    routing, so the route, its blueprint and so the key it needs are those of the merged path:
    no spelling of a path reaches a route without that route's authentication.
    """

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if "//" in path:
            environ["PATH_INFO"] = _SLASHES.sub("/", path)
        return self.app(environ, start_response)


def _no_redirect() -> None:
    """A near miss Werkzeug would redirect (a route's trailing slash left out) is the 404 envelope, naming the route.

    Flask answers a routing redirect itself, with an HTML body and no error handler involved.
    """
    if isinstance(request.routing_exception, RequestRedirect):
        location = urlsplit(request.routing_exception.new_url).path
        raise ApiError("NOT_FOUND", f"No route for {request.path}; the route is {location}", details={"location": location})


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


class SecuredResponse(Response):
    """Flask's response, with SECURITY_HEADERS unless whoever made it gave other values for them.

    It is the app's ``response_class``, so every answer the app makes (its routes', its error
    handlers', Flask's own automatic OPTIONS and 304 answers) is one: the headers are there from
    the start, without a pass over each answer's headers after the view.
    """

    def __init__(self, response=None, status=None, headers=None, *args, **kwargs):
        if headers is None:
            headers = SECURITY_HEADERS  # copied into the answer's own Headers
        elif isinstance(headers, dict):
            headers = headers | {name: value for name, value in SECURITY_HEADERS.items() if name not in headers}
        else:
            headers = Headers(headers)
            for name, value in SECURITY_HEADERS.items():
                headers.setdefault(name, value)
        super().__init__(response, status, headers, *args, **kwargs)

    def get_wsgi_headers(self, environ):
        """Its own headers, not Werkzeug's copy of them, when there is nothing to rewrite: a 200 with its length.

        Werkzeug copies every header (and checks each value again) to make a location absolute or to
        drop a length some statuses must not carry; an answer is sent once, so the copy guards nothing.
        """
        if self.status_code != 200:
            return super().get_wsgi_headers(environ)
        length = False
        for name, _ in self.headers:
            lowered = name.lower()
            if lowered in _REWRITTEN:
                return super().get_wsgi_headers(environ)
            length = length or lowered == "content-length"
        return self.headers if length else super().get_wsgi_headers(environ)


def init_app(app: Flask) -> None:
    """Register before authentication and the rate limiter: a preflight is answered before either."""
    app.url_map.redirect_defaults = False  # one URL per route: no redirect to a rule's canonical form
    app.wsgi_app = MergedSlashes(app.wsgi_app)
    app.before_request(_no_redirect)
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
