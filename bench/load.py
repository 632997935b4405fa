"""Load generators, each bounded in time and count: wrk (when present), a Python keep-alive loop, a one-shot burst."""

from __future__ import annotations

import http.client
import itertools
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
SOCKET_ERRORS = ("connect", "read", "write", "timeout")  # wrk's "Socket errors" line, in its order

# wrk prints only p50/75/90/99 by itself; this function has it print what we need as one JSON line.
_REPORTER = """
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
    socket_errors: dict[str, int]  # requests that got no answer, by cause (connect, read, write, timeout)
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

    @property
    def no_answer(self) -> int:
        return sum(self.socket_errors.values())

    @classmethod
    def combined(cls, loads: list[Load]) -> Load:
        """Several runs of one load as one: counts and seconds added up, each latency the worst run's."""
        return cls(
            generator=loads[0].generator, requests=sum(load.requests for load in loads),
            concurrency=loads[0].concurrency, duration_s=sum(load.duration_s for load in loads),
            non_2xx=sum(load.non_2xx for load in loads),
            socket_errors={name: sum(load.socket_errors.get(name, 0) for load in loads) for name in SOCKET_ERRORS},
            p50_ms=max(load.p50_ms for load in loads), p95_ms=max(load.p95_ms for load in loads),
            p99_ms=max(load.p99_ms for load in loads), max_ms=max(load.max_ms for load in loads),
            statuses=dict(sum((Counter(load.statuses) for load in loads), Counter())),
        )


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: bytes | None = None


@dataclass
class Answer:
    """One answer of a burst, kept whole so the caller can check what it says."""

    request: Request
    status: int | None  # None: no answer (the error says why)
    headers: dict[str, str]
    body: bytes
    seconds: float
    error: str | None = None


# -- wrk ------------------------------------------------------------------------------------------


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


def _lua_string(text: str) -> str:
    return json.dumps(text)  # a JSON string literal is a valid Lua string literal for this ASCII text


# What both request scripts share: the prebuilt requests, sent in turn, each thread from its own place
# in the list so that threads do not send the same request at once. ``init`` (below each) builds them.
_IN_TURN = """local requests = {}
next_index = 1  -- a global, so setup() can give each thread its own start

setup = function(thread)
  thread:set("next_index", next_index * 7)
  next_index = next_index + 1
end

request = function()
  local found = requests[(next_index - 1) % #requests + 1]
  next_index = next_index + 1
  return found
end
"""


def roundrobin_lua(paths: list[str]) -> str:
    """A wrk script that sends GET to each of ``paths`` in turn (each thread from its own offset)."""
    listed = ",\n".join(f"  {_lua_string(path)}" for path in paths)
    return f"""-- GET each path in turn. Written by bench/run.py at run time from the sandbox's catalog.
local paths = {{
{listed}
}}
{_IN_TURN}
init = function(args)
  -- wrk.format here, once per path, so a request costs a table lookup (headers from -H included).
  for i, path in ipairs(paths) do requests[i] = wrk.format("GET", path) end
end
"""


def post_lua(body: str) -> str:
    """A wrk script that POSTs the same JSON ``body`` on every request, with the API keys of its arguments in
    turn (``wrk ... url -- key ...``: no key is ever written to a file)."""
    return f"""-- POST one JSON body, with each API key given after -- in turn. Written by bench/run.py at run time.
local body = {_lua_string(body)}
{_IN_TURN}
init = function(args)
  for i, key in ipairs(args) do  -- args[0] is the URL
    requests[i] = wrk.format("POST", nil, {{["Content-Type"] = "application/json", ["X-API-Key"] = key}}, body)
  end
end
"""


def write_script(name: str, lua: str) -> Path:
    """``bench/<name>`` holding ``lua`` plus the reporter, rewritten only when it changes (the content is
    deterministic, so a run leaves the file as it found it)."""
    path = BENCH / name
    text = lua.rstrip() + "\n" + _REPORTER
    if not path.exists() or path.read_text() != text:
        with tempfile.NamedTemporaryFile("w", dir=BENCH, prefix=f".{name}.", delete=False) as draft:
            draft.write(text)
        os.chmod(draft.name, 0o644)
        os.replace(draft.name, path)
    return path


def wrk(binary: str, url: str, *, concurrency: int, duration_s: int, threads: int = 2,
        headers: dict[str, str] | None = None, script: Path | None = None, script_args: tuple[str, ...] = ()) -> Load:
    """wrk's keep-alive loop for ``duration_s`` seconds: on ``url``, or as ``script`` (with the reporter) says,
    given ``script_args``."""
    temporary = None
    if script is None:
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as temporary:
            temporary.write(_REPORTER)
        script = Path(temporary.name)
    command = [binary, f"-t{min(threads, concurrency)}", f"-c{concurrency}", f"-d{duration_s}s", "--timeout", "5s",
               "-s", str(script)]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    try:
        completed = subprocess.run([*command, url, *(("--", *script_args) if script_args else ())], capture_output=True, text=True, timeout=duration_s + 30, check=True)
    finally:
        if temporary is not None:
            Path(temporary.name).unlink()
    line = next(line for line in completed.stdout.splitlines() if line.startswith("WRK_JSON "))
    raw = json.loads(line[len("WRK_JSON "):])
    return Load(
        generator="wrk",
        requests=raw["requests"],
        concurrency=concurrency,
        duration_s=raw["duration_us"] / 1e6,
        non_2xx=raw["status_errors"],
        socket_errors={name: raw[f"{name}_errors"] for name in SOCKET_ERRORS},
        p50_ms=raw["p50_us"] / 1000, p95_ms=raw["p95_us"] / 1000, p99_ms=raw["p99_us"] / 1000,
        max_ms=raw["max_us"] / 1000,
    )


# -- Python ---------------------------------------------------------------------------------------


def python_loop(port: int, requests: list[Request], *, concurrency: int, duration_s: float,
                headers: dict[str, str] | None = None, max_requests: int = 2_000_000,
                on_body: Callable[[bytes], None] | None = None) -> Load:
    """``concurrency`` threads, each on one keep-alive connection sending ``requests`` in turn (from its own
    offset), until ``duration_s`` or ``max_requests`` in all; ``on_body`` sees every 200 answer's body."""
    deadline = time.monotonic() + duration_s
    tickets = itertools.count()  # next() on it is atomic under the GIL: a shared request budget without a lock
    results = []
    sent_headers = {**(headers or {}), "Content-Type": "application/json"}

    def worker(offset: int) -> None:
        latencies, statuses, errors = [], Counter(), Counter()
        connection = None
        turn = itertools.islice(itertools.cycle(requests), offset % len(requests), None)
        while time.monotonic() < deadline and next(tickets) < max_requests:
            request = next(turn)
            started = time.perf_counter()
            try:
                if connection is None:
                    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                connection.request(request.method, request.path, body=request.body, headers=sent_headers)
                response = connection.getresponse()
                body = response.read()
            except (OSError, http.client.HTTPException) as error:
                errors[_cause(error, connection)] += 1
                if connection is not None:
                    connection.close()
                connection = None
                continue
            latencies.append(time.perf_counter() - started)
            statuses[response.status] += 1
            if on_body is not None and response.status == 200:
                on_body(body)
        if connection is not None:
            connection.close()
        results.append((latencies, statuses, errors))

    started = time.monotonic()
    _run_threads([threading.Thread(target=worker, args=(index * 7,), daemon=True) for index in range(concurrency)],
                 duration_s + 10)
    return _load("python", concurrency, time.monotonic() - started, results)


def burst(port: int, requests: list[Request], *, headers: dict[str, str] | None = None,
          timeout: float = 30.0) -> tuple[Load, list[Answer]]:
    """Every request fired once, all at the same moment, each on its own new connection; every answer kept."""
    gate = threading.Barrier(len(requests))
    sent_headers = {**(headers or {}), "Content-Type": "application/json", "Connection": "close"}
    answers: list[Answer] = []

    def worker(request: Request) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        started = time.perf_counter()
        try:
            gate.wait(timeout=timeout)
            started = time.perf_counter()
            connection.request(request.method, request.path, body=request.body, headers=sent_headers)
            response = connection.getresponse()
            body = response.read()
            answers.append(Answer(request, response.status, {name.lower(): value for name, value in response.getheaders()},
                                  body, time.perf_counter() - started))
        except (OSError, http.client.HTTPException, threading.BrokenBarrierError) as error:
            answers.append(Answer(request, None, {}, b"", time.perf_counter() - started, _cause(error, connection)))
        finally:
            connection.close()

    # A thousand threads that each hold one socket need little stack.
    previous = threading.stack_size(512 * 1024)
    try:
        threads = [threading.Thread(target=worker, args=(request,), daemon=True) for request in requests]
    finally:
        threading.stack_size(previous)
    started = time.monotonic()
    _run_threads(threads, timeout * 2 + 10)
    seconds = time.monotonic() - started
    results = [([answer.seconds] if answer.status is not None else [],
                Counter([answer.status]) if answer.status is not None else Counter(),
                Counter([answer.error]) if answer.error else Counter()) for answer in answers]
    return _load("python-burst", len(requests), seconds, results), answers


def _cause(error: BaseException, connection) -> str:
    """Which of wrk's socket-error kinds a Python client error is."""
    if isinstance(error, (TimeoutError, threading.BrokenBarrierError)):
        return "timeout"
    if isinstance(error, ConnectionRefusedError) or (connection is not None and connection.sock is None
                                                     and isinstance(error, OSError)):
        return "connect"
    return "read"


def _run_threads(threads: list[threading.Thread], bound_s: float) -> None:
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + bound_s
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))


def _load(generator: str, concurrency: int, duration_s: float, results: list) -> Load:
    latencies = sorted(itertools.chain.from_iterable(result[0] for result in results))
    statuses = sum((result[1] for result in results), Counter())
    errors = sum((result[2] for result in results), Counter())

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
        socket_errors={name: errors.get(name, 0) for name in SOCKET_ERRORS},
        p50_ms=percentile(0.50), p95_ms=percentile(0.95), p99_ms=percentile(0.99),
        max_ms=latencies[-1] * 1000 if latencies else 0.0,
        statuses={str(status): count for status, count in sorted(statuses.items())},
    )
