"""Load generators, each bounded in time and count: wrk (when present), a Python keep-alive loop, a one-shot burst."""

from __future__ import annotations

import http.client
import itertools
import json
import shutil
import subprocess
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

# wrk prints only p50/75/90/99 by itself; this script has it print what we need as one JSON line.
_WRK_SCRIPT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"status_errors":%d,"connect_errors":%d,"read_errors":%d,' ..
    '"write_errors":%d,"timeout_errors":%d,"p50_us":%d,"p95_us":%d,"p99_us":%d,"max_us":%d}\\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
"""


@dataclass
class Load:
    """What one generator run saw from the client side."""

    generator: str
    requests: int
    concurrency: int
    duration_s: float
    non_2xx: int  # answers outside 2xx (wrk: status > 399; no 3xx is expected from these routes)
    socket_errors: int  # connect/read/write failures and timeouts: requests that got no answer
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    statuses: dict[str, int] = field(default_factory=dict)  # only the Python generators know these

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0

    @property
    def ok_rps(self) -> float:
        return (self.requests - self.non_2xx) / self.duration_s if self.duration_s else 0.0


def ensure_wrk() -> str | None:
    """The path of wrk, installing Debian's package once when it is missing; None when it cannot be had."""
    found = shutil.which("wrk")
    if found or shutil.which("apt-get") is None:
        return found
    # Install first without an update (fast when the lists are fresh), then with one.
    for steps in ([["apt-get", "install", "-y", "-q", "wrk"]],
                  [["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "wrk"]]):
        print(f"bench: wrk is missing, trying: {' && '.join(' '.join(step) for step in steps)}", flush=True)
        try:
            for step in steps:
                subprocess.run(step, check=True, timeout=180, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env={"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
        except (OSError, subprocess.SubprocessError):
            continue
        if shutil.which("wrk"):
            return shutil.which("wrk")
    print("bench: wrk could not be installed; using the Python load generator", flush=True)
    return None


def wrk(binary: str, url: str, *, concurrency: int, duration_s: int, threads: int = 2) -> Load:
    """wrk's keep-alive loop on one URL for ``duration_s`` seconds."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_WRK_SCRIPT)
    try:
        completed = subprocess.run(
            [binary, f"-t{threads}", f"-c{concurrency}", f"-d{duration_s}s", "--timeout", "5s", "-s", script.name, url],
            capture_output=True, text=True, timeout=duration_s + 30, check=True,
        )
    finally:
        Path(script.name).unlink()
    line = next(line for line in completed.stdout.splitlines() if line.startswith("WRK_JSON "))
    raw = json.loads(line[len("WRK_JSON "):])
    return Load(
        generator="wrk",
        requests=raw["requests"],
        concurrency=concurrency,
        duration_s=raw["duration_us"] / 1e6,
        non_2xx=raw["status_errors"],
        socket_errors=sum(raw[name] for name in ("connect_errors", "read_errors", "write_errors", "timeout_errors")),
        p50_ms=raw["p50_us"] / 1000, p95_ms=raw["p95_us"] / 1000, p99_ms=raw["p99_us"] / 1000,
        max_ms=raw["max_us"] / 1000,
    )


def python_loop(port: int, path: str, *, concurrency: int, duration_s: float, max_requests: int = 2_000_000) -> Load:
    """``concurrency`` threads, each on one keep-alive connection, until ``duration_s`` or ``max_requests``."""
    deadline = time.monotonic() + duration_s
    tickets = itertools.count()  # next() on it is atomic under the GIL: a shared request budget without a lock
    results = []

    def worker() -> None:
        latencies, statuses, errors = [], Counter(), 0
        connection = None
        while time.monotonic() < deadline and next(tickets) < max_requests:
            started = time.perf_counter()
            try:
                if connection is None:
                    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                connection.request("GET", path)
                response = connection.getresponse()
                response.read()
            except (OSError, http.client.HTTPException):
                errors += 1
                if connection is not None:
                    connection.close()
                connection = None
                continue
            latencies.append(time.perf_counter() - started)
            statuses[response.status] += 1
        if connection is not None:
            connection.close()
        results.append((latencies, statuses, errors))

    started = time.monotonic()
    _run_threads(worker, concurrency)
    return _load("python", concurrency, time.monotonic() - started, results)


def burst(port: int, requests: list[tuple[str, str, bytes | None]], timeout: float = 30.0) -> Load:
    """Every (method, path, body) fired once, all at the same moment, each on its own new connection."""
    gate = threading.Barrier(len(requests))
    results = []

    def worker(method: str, path: str, body: bytes | None) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        headers = {"Content-Type": "application/json", "Connection": "close"}
        try:
            gate.wait(timeout=timeout)
            started = time.perf_counter()
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            results.append(([time.perf_counter() - started], Counter([response.status]), 0))
        except (OSError, http.client.HTTPException, threading.BrokenBarrierError):
            results.append(([], Counter(), 1))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=request, daemon=True) for request in requests]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout + 5)
    return _load("python-burst", len(requests), time.monotonic() - started, results)


def _run_threads(target, count: int) -> None:
    threads = [threading.Thread(target=target, daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _load(generator: str, concurrency: int, duration_s: float, results: list) -> Load:
    latencies = sorted(itertools.chain.from_iterable(result[0] for result in results))
    statuses = sum((result[1] for result in results), Counter())
    errors = sum(result[2] for result in results)

    def percentile(fraction: float) -> float:
        if not latencies:
            return 0.0
        return latencies[min(len(latencies) - 1, int(fraction * len(latencies)))] * 1000

    return Load(
        generator=generator,
        requests=len(latencies),
        concurrency=concurrency,
        duration_s=duration_s,
        non_2xx=sum(count for status, count in statuses.items() if not 200 <= status < 300),
        socket_errors=errors,
        p50_ms=percentile(0.50), p95_ms=percentile(0.95), p99_ms=percentile(0.99),
        max_ms=latencies[-1] * 1000 if latencies else 0.0,
        statuses={str(status): count for status, count in sorted(statuses.items())},
    )
