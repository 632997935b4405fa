"""`python -m bench.inprocess`: what the app itself spends on (a)'s request, without gunicorn or a socket.

The app's WSGI callable is called in a loop with (a)'s request (a hot quote, warmed first, with the
API key, client limits synced with the real Redis, and metrics on), against the sandbox, and the
microseconds per request are printed beside those of the bare route's app (``bench/bare.py``).
``--profile`` adds cProfile's functions with the most self time. Nothing here is asserted: like
``bench.run`` it is a measurement, and its numbers move with the machine.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from werkzeug.test import EnvironBuilder

from bench.run import QUOTE
from bench.stores import REDIS_URL, keyed_database
from harness.namespace import forget
from sandbox.client import SandboxServer

REDIS_PREFIX = "opitios-bench-inprocess"  # its own keys, deleted before and after


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.inprocess", description=__doc__)
    parser.add_argument("--requests", type=int, default=20_000, help="requests timed per app (default 20 000)")
    parser.add_argument("--profile", action="store_true", help="then the same requests again under cProfile")
    return parser.parse_args(argv)


def per_request(app: Callable, environ: dict, count: int, statuses: Counter) -> float:
    """Microseconds per call of ``app`` with a copy of ``environ``, after as many calls again to warm it."""

    def start_response(status: str, headers: list, exc_info=None) -> None:
        statuses[status] += 1

    def once() -> None:
        for _ in app(dict(environ), start_response):
            pass

    for _ in range(count // 10):
        once()
    started = time.perf_counter()
    for _ in range(count):
        once()
    return (time.perf_counter() - started) / count * 1e6


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    with tempfile.TemporaryDirectory(prefix="opitios-inprocess-") as folder:
        # Metrics in files, as under gunicorn: prometheus_client picks how it keeps values when it is
        # first imported, so the app (and its metrics) is imported only now.
        metrics = Path(folder) / "metrics"
        metrics.mkdir()
        os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(metrics))
        return measure(args, Path(folder))


def measure(args: argparse.Namespace, folder: Path) -> int:
    from bench.bare import app as bare
    from opitios.app import create_app, stop_background

    forget(REDIS_URL, REDIS_PREFIX)
    with SandboxServer() as sandbox:
        sandbox.switches(market="open")
        database, (key, *_) = keyed_database(folder)
        app = create_app({**sandbox.gateway_env(), "DATABASE_URL": database, "REDIS_URL": REDIS_URL,
                          "OPITIOS_REDIS_PREFIX": REDIS_PREFIX})
        try:
            environ = EnvironBuilder(path=QUOTE, headers={"X-API-Key": key}).get_environ()
            statuses: Counter = Counter()
            ours = per_request(app, environ, args.requests, statuses)
            theirs = per_request(bare, EnvironBuilder(path=QUOTE).get_environ(), args.requests, Counter())
            print(f"opitios: {ours:.1f} us per cached quote ({dict(statuses)}); bare route: {theirs:.1f} us")
            if args.profile:
                profiler = cProfile.Profile()
                profiler.runcall(per_request, app, environ, args.requests, Counter())
                pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(30)
        finally:
            stop_background(app)
            forget(REDIS_URL, REDIS_PREFIX)
    return 0 if set(statuses) == {"200 OK"} else 1


if __name__ == "__main__":
    sys.exit(main())
