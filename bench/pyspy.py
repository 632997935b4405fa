"""A sampling profile of opitios's gunicorn workers under load, taken with py-spy (optional: `pip install py-spy`).

py-spy attaches to the gunicorn master and follows its workers (``--subprocesses``), so a worker
that max_requests recycles mid-phase is replaced in the profile by its successor. The raw output
(one collapsed stack and its sample count per line) is kept beside the JSON results; the summary
is the share of samples per concern of a request (rate limiting, logging …, inclusive), per
top-level package (where the time is spent, self time) and the functions present in the most
samples (what the time is spent for, inclusive).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path


# What a request spends its time on, by the frames found in a stack (a stack may count for several):
# the inclusive share of samples whose stack holds any of the markers. Markers are module paths
# as py-spy shortens them, or function names.
CONCERNS = {
    "rate limiting (opitios/access/limits.py, limits, their Redis call)": (
        "limits/", "opitios/access/limits.py", "opitios/access/synced_counts.py",
    ),
    "writing the response to the client (gunicorn)": ("Response.send_headers (", "Response._emit_body (",
                                                      "Response.write ("),
    "reading and parsing the request (gunicorn)": ("gunicorn/http/message.py", "gunicorn/http/parser.py",
                                                   "gunicorn/http/unreader.py"),
    "logging (access log, application log)": ("logging/", "opitios/logs.py", "gunicorn/glogging.py"),
    "routing and request context (Flask, Werkzeug)": ("werkzeug/routing/", "flask/ctx.py"),
    "authentication (opitios/access/auth.py, keys.py)": ("opitios/access/auth.py", "opitios/access/keys.py"),
    "metrics (Prometheus)": ("prometheus_client/", "HttpMetrics._series ("),
    "envelope and JSON (opitios/envelope.py, jsonio.py)": ("opitios/envelope.py", "opitios/jsonio.py"),
    "cache lookup (opitios/cache.py, services/cached.py)": ("opitios/cache.py", "opitios/services/cached.py"),
    "worker boot after max_requests (imports)": ("importlib",),
}


def find_py_spy() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"  # installed into the venv with pip
    return str(beside) if beside.exists() else shutil.which("py-spy")


def start(binary: str, pid: int, seconds: int, output: Path) -> subprocess.Popen:
    """py-spy recording the process ``pid`` and its children for ``seconds``, in raw (collapsed) format."""
    return subprocess.Popen(
        [binary, "record", "--pid", str(pid), "--subprocesses", "--duration", str(seconds), "--rate", "100",
         "--format", "raw", "--nolineno", "--nonblocking", "--output", str(output)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )


def finish(process: subprocess.Popen, seconds: int) -> str | None:
    """Wait for the recording (bounded); None when it went well, else py-spy's complaint."""
    try:
        _, errors = process.communicate(timeout=seconds + 30)
    except subprocess.TimeoutExpired:
        process.kill()
        _, errors = process.communicate()
        return "py-spy did not finish in time"
    return None if process.returncode == 0 else (errors.strip().splitlines() or ["py-spy failed"])[-1]


def _frames(line: str) -> tuple[list[str], int]:
    stack, _, count = line.rpartition(" ")
    frames = [frame for frame in stack.split(";") if frame and not frame.startswith("process ")]
    return frames, int(count)


def _package(frame: str) -> str:
    """The top-level package of ``function (path)``: opitios, flask, gevent, redis …"""
    where = frame.rpartition(" (")[2].rstrip(")")
    if where.startswith("<"):
        return where
    first = where.split("/", 1)[0]
    return first.removesuffix(".py") if "/" in where else f"{first.removesuffix('.py')} (stdlib or top-level module)"


def summarize(raw: str, top: int = 25) -> dict:
    """Sample shares of the raw py-spy output: self time by package, inclusive time by function."""
    total = 0
    by_package: Counter = Counter()
    inclusive: Counter = Counter()
    leaf: Counter = Counter()
    concerns: Counter = Counter()
    for line in raw.splitlines():
        if not line.strip():
            continue
        try:
            frames, count = _frames(line)
        except ValueError:
            continue
        if not frames:
            continue
        total += count
        by_package[_package(frames[-1])] += count
        leaf[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
        stack = ";".join(frames)
        for concern, markers in CONCERNS.items():
            if any(marker in stack for marker in markers):
                concerns[concern] += count

    def shares(counter: Counter) -> list[tuple[str, float]]:
        return [(name, round(100 * count / total, 1)) for name, count in counter.most_common(top)]

    return {"samples": total, "inclusive_by_concern_pct": shares(concerns), "self_by_package_pct": shares(by_package),
            "self_by_function_pct": shares(leaf), "inclusive_by_function_pct": shares(inclusive)}


def render(summary: dict, lines: int = 15) -> str:
    parts = [f"{summary['samples']} samples (100 Hz, every worker)", "inclusive time by concern:"]
    parts += [f"  {share:5.1f}%  {name}" for name, share in summary["inclusive_by_concern_pct"]]
    parts.append("self time by package:")
    parts += [f"  {share:5.1f}%  {name}" for name, share in summary["self_by_package_pct"][:lines]]
    parts.append("self time by function:")
    parts += [f"  {share:5.1f}%  {name}" for name, share in summary["self_by_function_pct"][:lines]]
    parts.append("inclusive time by function:")
    parts += [f"  {share:5.1f}%  {name}" for name, share in summary["inclusive_by_function_pct"][:lines]]
    return "\n".join(parts)
