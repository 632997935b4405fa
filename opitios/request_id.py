"""X-Request-ID: echo a client's sane id, else make one (CONTRACT §3)."""

from __future__ import annotations

import random
import re

from flask import Flask, Response, request

_SANE = re.compile(r"[A-Za-z0-9._-]{1,128}")


def current_request_id() -> str:
    """This request's id, chosen on first use (a log line, an error, the envelope or the answer's header)."""
    return request.id  # the app's request class (opitios/app.py) chooses it once, with chosen_request_id


def chosen_request_id(offered: str) -> str:
    """The id a client offered when it is sane, else a new one: 32 hex digits.

    A request id names a request in logs and error rows; it is no secret and grants nothing, so
    it comes from the process's own random generator (reseeded in every forked process) rather
    than from the system's, which costs a system call per request (a twentieth of a cached quote).
    """
    return offered if _SANE.fullmatch(offered) else f"{random.getrandbits(128):032x}"


def _echo(response: Response) -> Response:
    response.headers.add("X-Request-ID", current_request_id())  # nothing else writes it: no search for one to replace
    return response


def init_app(app: Flask) -> None:
    app.after_request(_echo)
