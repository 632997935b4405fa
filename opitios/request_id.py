"""X-Request-ID: echo a client's sane id, else make one (CONTRACT §3)."""

from __future__ import annotations

import re
import uuid

from flask import Flask, Response, g, request

_SANE = re.compile(r"[A-Za-z0-9._-]{1,128}")


def current_request_id() -> str:
    """This request's id, assigned on first use."""
    if "request_id" not in g:
        g.request_id = chosen_request_id(request.headers.get("X-Request-ID", ""))
    return g.request_id


def chosen_request_id(offered: str) -> str:
    """The id a client offered when it is sane, else a new one."""
    return offered if _SANE.fullmatch(offered) else uuid.uuid4().hex


def _assign() -> None:
    current_request_id()  # a before_request hook must return None


def _echo(response: Response) -> Response:
    response.headers["X-Request-ID"] = current_request_id()
    return response


def init_app(app: Flask) -> None:
    app.before_request(_assign)
    app.after_request(_echo)
