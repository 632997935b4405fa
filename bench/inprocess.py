"""`python -m bench.inprocess`: what the app itself spends on (a)'s request, without gunicorn or a socket.

The app's WSGI callable is called in a loop with (a)'s request (a hot quote, warmed first, with the
API key, client limits synced with the real Redis, and metrics on), against the sandbox, and the
microseconds per request are printed beside those of the bare route's app (``bench/bare.py``).
``--profile`` adds cProfile's functions with the most self time. Nothing here is asserted: like
``bench.run`` it is a measurement, and its numbers move with the machine.

``--instructions`` counts instead of timing: the command runs itself again under valgrind's
callgrind, which counts the instructions each app executes for the same requests. The count does
not move with what else the machine is doing, so two versions of the code compare on a busy
machine too (about 1 % apart from one run to the next). The app's background threads are stopped
before counting, so only the request path is counted.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import re
import shutil
import subprocess
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
    parser.add_argument("--requests", type=int, help="requests timed per app (default 20 000; counted, 1 000)")
    parser.add_argument("--profile", action="store_true", help="then the same requests again under cProfile")
    parser.add_argument("--instructions", action="store_true",
                        help="count instructions per request under valgrind's callgrind instead (default 1 000 requests)")
    args = parser.parse_args(argv)
    if args.requests is None:
        args.requests = 1_000 if args.instructions else 20_000
    return args


UNDER_CALLGRIND = "OPITIOS_INPROCESS_CALLGRIND"  # the folder of the counts, in the run under valgrind


def counted_run(args: argparse.Namespace) -> int:
    """This command again under callgrind, counting nothing until each app's requests; their counts per request."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        sys.exit("bench.inprocess: --instructions needs valgrind (apt-get install valgrind)")
    with tempfile.TemporaryDirectory(prefix="opitios-callgrind-") as folder:
        command = [valgrind, "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={folder}/counts",
                   sys.executable, "-m", "bench.inprocess", "--instructions", "--requests", str(args.requests)]
        with open(Path(folder) / "stderr", "w+") as stderr:  # valgrind's and the app's, shown if the run fails
            completed = subprocess.run(command, env={**os.environ, UNDER_CALLGRIND: folder}, stderr=stderr)
            stderr.seek(0)
            said = stderr.read()[-3000:]
        counts: dict[str, int] = {}
        for dump in Path(folder).glob("counts.*"):  # one per dump: "desc: Trigger: dump <name>", "totals: <n>"
            text = dump.read_text()
            trigger, totals = re.search(r"^desc: Trigger: dump (\w+)$", text, re.M), re.search(r"^totals: (\d+)$", text, re.M)
            if trigger and totals:
                counts[trigger[1]] = int(totals[1])
        if completed.returncode != 0 or set(counts) != {"opitios", "bare"}:
            sys.exit(f"bench.inprocess: the counted run failed (exit {completed.returncode}, counts {counts}):\n{said}")
    ours, theirs = (counts[name] / args.requests for name in ("opitios", "bare"))
    print(f"opitios: {ours / 1000:.0f}k instructions per cached quote; bare route: {theirs / 1000:.0f}k "
          f"({args.requests} requests each, callgrind)")
    return 0


def count_instructions(name: str, app: Callable, environ: dict, count: int, statuses: Counter) -> None:
    """Under callgrind: instructions counted for ``count`` calls of ``app`` only, dumped as ``name``."""
    pid = str(os.getpid())
    per_request(app, environ, count // 10, statuses)  # warm, uncounted
    subprocess.run(["callgrind_control", "--instr=on", pid], stdout=subprocess.DEVNULL, check=True)
    per_request(app, environ, count, statuses, warm=False)
    subprocess.run(["callgrind_control", f"--dump={name}", pid], stdout=subprocess.DEVNULL, check=True)
    subprocess.run(["callgrind_control", "--instr=off", pid], stdout=subprocess.DEVNULL, check=True)


def per_request(app: Callable, environ: dict, count: int, statuses: Counter, warm: bool = True) -> float:
    """Microseconds per call of ``app`` with a copy of ``environ``, after a tenth as many calls to warm it."""

    def start_response(status: str, headers: list, exc_info=None) -> None:
        statuses[status] += 1

    def once() -> None:
        for _ in app(dict(environ), start_response):
            pass

    for _ in range(count // 10 if warm else 0):
        once()
    started = time.perf_counter()
    for _ in range(count):
        once()
    return (time.perf_counter() - started) / count * 1e6


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    if args.instructions and UNDER_CALLGRIND not in os.environ:
        return counted_run(args)
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
            if args.instructions:
                per_request(app, environ, args.requests // 10, statuses)  # warm before the threads stop
                quiet(app)
                count_instructions("opitios", app, environ, args.requests, statuses)
                count_instructions("bare", bare, EnvironBuilder(path=QUOTE).get_environ(), args.requests, Counter())
                return 0 if set(statuses) == {"200 OK"} else 1
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


def quiet(app) -> None:
    """Stop the app's background threads (configuration, limit sync, refresh-ahead, clock, error log), keeping its
    connections: callgrind counts every thread, and only the requests are to be counted."""
    from opitios import extensions

    parts = extensions.of(app)
    for part in (parts.runtime, parts.limiter, parts.services.cached.ahead, parts.services.clock, parts.error_log):
        part.stop()


if __name__ == "__main__":
    sys.exit(main())
