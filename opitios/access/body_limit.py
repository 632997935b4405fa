"""Request bodies bounded by MAX_CONTENT_LENGTH before anything reads them: Content-Length and chunked alike.

werkzeug refuses a Content-Length over the limit only when the body is first read, and a chunked
body (one the server de-chunks and terminates, as gunicorn does) it reads up to the limit and then
stops without a word: the app got the first 64 KiB of a larger body. Here the decision is made
once, in a hook that runs before authentication and the rate limiter, so an oversized body costs
neither a key check nor a limiter call, and nothing that reads the body later can fail on its size.
"""

from __future__ import annotations

import io
from typing import IO

from flask import Flask, request
from werkzeug.exceptions import RequestEntityTooLarge

from opitios.errors import ApiError


def _bound_body() -> None:
    environ = request.environ
    if environ.get("CONTENT_LENGTH") in (None, "", "0") and "HTTP_TRANSFER_ENCODING" not in environ:
        return  # no body (most requests): nothing to bound
    limit = request.max_content_length
    if limit is None:
        return
    length = request.content_length
    if length is not None:
        if length > limit:
            raise RequestEntityTooLarge()
        return  # werkzeug reads no more than Content-Length
    if "chunked" not in request.headers.get("Transfer-Encoding", "").lower():
        return  # no length and no chunks: a request without a body
    if not request.environ.get("wsgi.input_terminated"):
        return  # werkzeug will not read a stream the server does not terminate: it reads as empty
    body = _read_at_most(request.environ["wsgi.input"], limit + 1)
    if len(body) > limit:
        raise RequestEntityTooLarge()
    # The whole body, read once: every later reader (the limiter's cost, the route) gets all of it.
    request.environ["wsgi.input"] = io.BytesIO(body)


def _read_at_most(stream: IO[bytes], size: int) -> bytes:
    """Up to ``size`` bytes; a server's stream may hand them out in several reads."""
    parts, received = [], 0
    try:
        while received < size:
            part = stream.read(size - received)
            if not part:
                break
            parts.append(part)
            received += len(part)
    except Exception:  # whatever the server raises de-chunking the client's bytes (gunicorn's parse
        # errors, a dropped connection) is about what the client sent, not a fault of ours
        raise ApiError("INVALID_REQUEST_BODY", "The chunked request body is malformed or incomplete") from None
    return b"".join(parts)


def init_app(app: Flask) -> None:
    """Register before authentication and the rate limiter: Flask runs before_request hooks in order."""
    app.before_request(_bound_body)
