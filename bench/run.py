"""`python -m bench.run`: opitios (authenticated, rate-limited, with metrics, real Redis) beside a bare Flask route
under the same gunicorn settings, against the sandbox upstream with a fixed latency, in scenarios (a)-(e); and (f), the hot
set polled without and with `opitios stream`."""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import runpy
import string
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path

from bench import chart
from bench import load as generators
from bench import pyspy
from bench.bare import BODY_BYTES
from bench.load import Request
from bench.report import Phase, Scenario, access_summary, details, table, write_json
from bench.stores import REDIS_PREFIX, REDIS_URL, forget_keys, keyed_database, redis_keys, reset_client_limits, section
from harness.servers import ROOT, GunicornServer, StreamerProcess, access_entries
from sandbox.client import SandboxServer

QUOTE = "/api/v1/stocks/AAPL/quote"
SNAPSHOTS = "/v2/stocks/snapshots"
BATCH = "/api/v1/stocks/quotes/batch"
BATCH_SIZE = 20  # the default limits.max_batch_symbols
# (c)'s batches cost 20 each against a key's limit of at most 1 000 000 a minute: one key would be spent at
# about 830 batches a second. (c) sends them with this many keys in turn, as that many clients would.
BATCH_KEYS = 16
SCENARIOS = "abcdef"
RATIO_TARGETS = {"a": 0.6, "b": 0.5, "c": 0.3}
# The order of a scenario's phases: each app's are added up, and the order cancels a steady drift in speed.
ROUNDS = ("opitios", "bare", "bare", "opitios")


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--duration", type=int, default=8,
                        help="seconds of each round of (a), (b), (c); two rounds per app (default 8: three 5 s quote TTLs in all)")
    parser.add_argument("--concurrency", type=int, default=64, help="connections in (a), (b), (c) (default 64)")
    parser.add_argument("--stress-connections", type=int, default=500, help="connections in (e) (default 500)")
    parser.add_argument("--stress-duration", type=int, default=15, help="seconds of each round of (e); two per app (default 15)")
    parser.add_argument("--round-robin-symbols", type=int, default=500,
                        help="distinct symbols (b) asks for in turn, all known to the sandbox (default 500)")
    parser.add_argument("--burst-requests", type=int, default=1000, help="requests fired at once in (d) (default 1000)")
    parser.add_argument("--burst-symbols", type=int, default=500, help="distinct symbols among them (default 500)")
    parser.add_argument("--upstream-latency-ms", type=int, default=50,
                        help="the sandbox waits this long before answering every API call (default 50)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers of each app (default 2)")
    parser.add_argument("--generator", choices=("auto", "wrk", "python"), default="auto",
                        help="auto: wrk, installed with apt-get when missing, else the Python loop")
    parser.add_argument("--market", choices=("open", "closed", "auto"), default="open",
                        help="the sandbox's market state (default open: the 5 s quote TTL, whatever the hour)")
    parser.add_argument("--poll-duration", type=int, default=60, help="seconds of each polling phase of (f) (default 60)")
    parser.add_argument("--hot-symbols", type=int, default=30,
                        help="symbols polled in (f) (default 30: stream.max_symbols, the free plan's cap)")
    parser.add_argument("--poll-connections", type=int, default=8, help="polling connections in (f) (default 8)")
    parser.add_argument("--scenarios", default=SCENARIOS, help="which of a-f to run (default abcdef)")
    parser.add_argument("--profile", action="store_true",
                        help="after the scenarios, repeat (a) on opitios alone under py-spy (pip install py-spy)")
    parser.add_argument("--out", type=Path, default=Path("/tmp/opitios-bench.json"), help="JSON results file")
    parser.add_argument("--chart", type=Path, default=ROOT / "benchmarks.png",
                        help="the run's picture, PNG (default benchmarks.png beside BENCHMARKS.md)")
    args = parser.parse_args(argv)
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown or not args.scenarios:
        parser.error(f"--scenarios takes letters of {SCENARIOS}")
    if args.burst_symbols > args.burst_requests:
        parser.error("--burst-symbols cannot exceed --burst-requests")
    return args


@dataclass(frozen=True)
class Traffic:
    """What one phase sends: the requests in turn (the Python loop) and wrk's script (None: GET the first path)."""

    requests: list[Request]
    script: Path | None = None
    script_args: tuple[str, ...] = ()  # what wrk passes the script (after --)


def quote_path(symbol: str) -> str:
    return f"/api/v1/stocks/{symbol}/quote"


def unknown_symbols(count: int, known: set[str]) -> list[str]:
    """``count`` well-formed stock symbols the sandbox does not know (it answers them with no data: a 404)."""
    letters = string.ascii_uppercase
    found = []
    for first in "QZ":
        for second in letters:
            for third in letters:
                symbol = f"{first}{second}{third}X"
                if symbol not in known:
                    found.append(symbol)
                if len(found) == count:
                    return found
    raise ValueError(f"cannot make {count} unknown symbols")


class Bench:
    """The scenarios, against one sandbox, one opitios and one bare app, all started by main()."""

    def __init__(self, sandbox: SandboxServer, opitios: GunicornServer, bare: GunicornServer, keys: list[str],
                 budget: int, wrk: str | None, args: argparse.Namespace, env: dict[str, str]) -> None:
        self.env = env  # opitios's environment, which a streamer shares
        self.streamer_pids: set[int] = set()
        self.sandbox = sandbox
        self.opitios = opitios
        self.bare = bare
        self.headers = {"X-API-Key": keys[0]}
        self.keys = keys
        self.budget = budget
        self.wrk = wrk
        self.args = args
        catalog = sandbox.catalog()
        # NULLSNAP has no data by design (a 404); every other catalog stock (named or generated) has a quote.
        self.known = [symbol for symbol in catalog["stocks"] if symbol != catalog["special"]["null_snapshot"]]
        self.checks: dict[str, object] = {}

    # --- tools -----------------------------------------------------------------------------------

    def loop(self, server: GunicornServer, traffic: Traffic, *, concurrency: int, duration: int):
        """A keep-alive loop, bounded by time (and, in Python, by count), with the API key on every request."""
        if self.wrk:
            first = traffic.requests[0]
            return lambda: generators.wrk(self.wrk, server.url + first.path, concurrency=concurrency, duration_s=duration,
                                          headers=self.headers, script=traffic.script, script_args=traffic.script_args)
        return lambda: generators.python_loop(server.port, traffic.requests, concurrency=concurrency,
                                              duration_s=duration, headers=self.headers)

    def ask(self, server: GunicornServer, request: Request, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        """One request, outside any measurement (warming, checks)."""
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        try:
            connection.request(request.method, request.path, body=request.body,
                               headers={"Content-Type": "application/json", **(self.headers if headers is None else headers)})
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def warm(self, requests: list[Request]) -> None:
        """Ask each request once, outside any measurement, until it is answered.

        (d) spends the upstream budget's burst: a warming request right after it may be told the budget
        is spent (429 UPSTREAM_RATE_LIMITED), and is asked again once the budget has had time to refill.
        """
        for request in requests:
            deadline = time.monotonic() + 120
            while True:
                status, body = self.ask(self.opitios, request)
                if status == 200:
                    break
                if status != 429 or b"UPSTREAM_RATE_LIMITED" not in body or time.monotonic() > deadline:
                    raise RuntimeError(f"warming {request.method} {request.path}: {status} {body[:300]!r}")
                time.sleep(1)

    def measure(self, name: str, target: str, server: GunicornServer, what: str, run) -> Phase:
        before = self.sandbox.calls()["by_path"]
        offset = server.log_size()
        load_average = os.getloadavg()[0]
        result = run()
        time.sleep(0.3)  # gunicorn writes an access line just after the answer; let the last ones land
        after = self.sandbox.calls()["by_path"]
        text = server.log_since(offset)
        by_path = {path: after[path] - before.get(path, 0) for path in after if after[path] != before.get(path, 0)}
        statuses, cache, per_worker = access_summary(access_entries(text))
        phase = Phase(name, target, what, result, sum(by_path.values()), by_path, statuses, cache, per_worker,
                      text.count("Booting worker with pid"), load_average)
        print(f"bench: {name} (load average {load_average:.1f}): {result.requests} requests, {result.rps:.0f} rps, "
              f"p50 {result.p50_ms:.0f} ms, p99 {result.p99_ms:.0f} ms, "
              f"{result.non_2xx} non-2xx, {result.no_answer} no answer, {phase.upstream_calls} upstream calls",
              flush=True)
        return phase

    def side_by_side(self, key: str, title: str, target: str, what: str, traffic: Traffic, bare_traffic: Traffic,
                     bare_what: str, *, concurrency: int, duration: int) -> Scenario:
        """opitios's phase and the bare route's, with the same connections and duration, in ROUNDS.

        The phases run in the order opitios, bare, bare, opitios (each ``duration`` seconds), and each
        app's two are added up: a machine that speeds up or slows down during the scenario weighs on
        both alike, which one phase after the other did not (the bare route alone moved by a fifth
        from one minute to the next on a shared machine).
        """
        # The key's limits (1 000 000 a minute and an hour) are counted on every request; a batch of 20 costs 20.
        # Each scenario starts with the whole allowance, so the earlier ones cannot spend it for the later ones.
        reset_client_limits()
        apps = {"opitios": (self.opitios, traffic, what), "bare": (self.bare, bare_traffic, bare_what)}
        rounds: dict[str, list[Phase]] = {"opitios": [], "bare": []}
        for number, app in enumerate(ROUNDS, start=1):
            server, load, described = apps[app]
            rounds[app].append(self.measure(f"{key}-{app}-{number}", app, server, described,
                                            self.loop(server, load, concurrency=concurrency, duration=duration)))
        scenario = Scenario(key, title, Phase.combined(f"{key}-opitios", rounds["opitios"]),
                            Phase.combined(f"{key}-bare", rounds["bare"]), target, RATIO_TARGETS.get(key))
        scenario.details["ratio by pair of rounds"] = [
            round(ours.load.ok_rps / bare.load.ok_rps, 2) if bare.load.ok_rps else None
            for ours, bare in zip(rounds["opitios"], rounds["bare"])
        ]
        return scenario

    # --- the scenarios ---------------------------------------------------------------------------

    def check_authentication(self) -> None:
        """Market data without the key must be refused, with it answered: the measured path authenticates."""
        without, _ = self.ask(self.opitios, Request("GET", quote_path("ZZZZX")), headers={})
        self.checks["status without the API key"] = without
        print(f"bench: a quote without the API key: {without} (401 expected: market data is not public)", flush=True)

    def hot_quote(self) -> Scenario:
        self.warm([Request("GET", QUOTE)])
        plain = Traffic([Request("GET", QUOTE)])
        args = self.args
        return self.side_by_side(
            "a", "one hot cached quote", f"≥ {RATIO_TARGETS['a']} × bare",
            f"GET {QUOTE}, keep-alive, API key, warmed first", plain, plain, f"GET {QUOTE} on bench/bare.py",
            concurrency=args.concurrency, duration=args.duration,
        )

    def round_robin(self) -> Scenario:
        symbols = self.known[:self.args.round_robin_symbols]
        if len(symbols) < self.args.round_robin_symbols:
            raise RuntimeError(f"(b) asks for {self.args.round_robin_symbols} symbols; the sandbox has {len(symbols)} quotes")
        paths = [quote_path(symbol) for symbol in symbols]
        self.warm([Request("POST", BATCH, json.dumps({"symbols": chunk}).encode()) for chunk in self._chunks(symbols)])
        script = generators.write_script("roundrobin.lua", generators.roundrobin_lua(paths))
        traffic = Traffic([Request("GET", path) for path in paths], script)
        scenario = self.side_by_side(
            "b", f"{len(paths)} symbols round-robin, cached", f"≥ {RATIO_TARGETS['b']} × bare",
            f"GET /stocks/<symbol>/quote over {len(paths)} distinct symbols in turn (bench/roundrobin.lua), warmed first",
            traffic, traffic, "the same script on bench/bare.py", concurrency=self.args.concurrency,
            duration=self.args.duration,
        )
        scenario.details["distinct symbols"] = len(paths)
        return scenario

    def batch(self) -> Scenario:
        symbols = self.known[:BATCH_SIZE]
        body = json.dumps({"symbols": symbols}, separators=(",", ":"))
        self.warm([Request("POST", BATCH, body.encode())])
        script = generators.write_script("batch.lua", generators.post_lua(body))
        scenario = self.side_by_side(
            "c", f"batch of {len(symbols)}, cached", f"≥ {RATIO_TARGETS['c']} × bare",
            f"POST {BATCH} with {len(symbols)} symbols (bench/batch.lua), warmed first",
            Traffic([Request("POST", BATCH, body.encode())], script, tuple(self.keys)), Traffic([Request("GET", QUOTE)]),
            f"GET {QUOTE} on bench/bare.py (its one route)", concurrency=self.args.concurrency,
            duration=self.args.duration,
        )
        scenario.details["symbols per request"] = len(symbols)
        scenario.details["API keys in turn"] = len(self.keys) if self.wrk else 1
        scenario.details["symbols/s"] = round(scenario.opitios.load.rps * len(symbols))
        return scenario

    def cold_burst(self) -> Scenario:
        args = self.args
        known = set(self.known)
        symbols = (self.known + unknown_symbols(args.burst_symbols, known))[:args.burst_symbols]
        order = [symbols[index % len(symbols)] for index in range(args.burst_requests)]
        random.Random(0).shuffle(order)  # the same order every run
        forget_keys()
        keys_before = redis_keys()
        answers = []

        def fire():
            nonlocal answers
            result, answers = generators.burst(self.opitios.port, [Request("GET", quote_path(s)) for s in order],
                                               headers=self.headers)
            return result

        phase = self.measure(
            "d-opitios", "opitios", self.opitios,
            f"{len(order)} GET /stocks/<symbol>/quote over {len(symbols)} distinct symbols "
            f"({len(known & set(symbols))} known to the sandbox), all at once, from an empty Redis", fire,
        )
        verdicts, codes = self._judge(answers, known)
        bad = sum(count for verdict, count in verdicts.items() if verdict.startswith("wrong"))
        scenario = Scenario(
            "d", f"cold burst, {len(order)} requests / {len(symbols)} symbols", phase, None,
            f"upstream ≤ {self.budget}/min; every answer real or a 429/503 envelope",
            checks={f"upstream calls ≤ budget {self.budget}": phase.upstream_calls <= self.budget,
                    "every answer real data or a 429/503 envelope": bad == 0 and phase.load.no_answer == 0},
        )
        scenario.details.update({"Redis keys at start": keys_before, "distinct symbols": len(symbols),
                                 "known to the sandbox": len(known & set(symbols)),
                                 "answers": dict(sorted(verdicts.items())), "error codes": dict(sorted(codes.items()))})
        return scenario

    def stress(self) -> Scenario:
        self.warm([Request("GET", QUOTE)])
        plain = Traffic([Request("GET", QUOTE)])
        args = self.args
        scenario = self.side_by_side(
            "e", f"{args.stress_connections} connections, hot quote", "0 socket errors, 0 5xx",
            f"GET {QUOTE}, keep-alive, API key, {args.stress_connections} connections", plain, plain,
            f"GET {QUOTE} on bench/bare.py", concurrency=args.stress_connections, duration=args.stress_duration,
        )
        errors = scenario.opitios.load.socket_errors
        scenario.checks = {"no connect/read/write errors": errors["connect"] + errors["read"] + errors["write"] == 0,
                           "no request past the client's 5 s timeout": errors["timeout"] == 0,
                           "no 5xx": scenario.opitios.server_5xx == 0}
        return scenario

    def hot_set(self) -> list[Scenario]:
        """(f) The hot set polled, REST only and then with `opitios stream`: snapshot calls and the answers' age."""
        hot = self.known[:self.args.hot_symbols]
        paths = [quote_path(symbol) for symbol in hot]
        self.sandbox.switches(clock="live")  # REST answers age as real ones do, as the stream's do
        try:
            self.warm([Request("POST", BATCH, json.dumps({"symbols": chunk}).encode()) for chunk in self._chunks(hot)])
            rest = self._polled("f-rest", "REST only", "about half the TTL (5 s): refresh-ahead", paths)
            with StreamerProcess(self.env) as streamer:
                self.streamer_pids.add(streamer.pid)
                waited = self._until_streamed(paths)
                stream = self._polled("f-stream", "with `opitios stream`", "median age < 1 s, fewer snapshot calls", paths)
                stream.details["seconds until every symbol streamed"] = waited
        finally:
            self.sandbox.switches(clock="frozen")
        calls = {scenario.key: scenario.opitios.upstream_by_path.get(SNAPSHOTS, 0) for scenario in (rest, stream)}
        stream.checks = {"median age under 1 s": stream.details["age median s"] < 1,
                         "fewer snapshot calls than REST only": calls["f-stream"] < calls["f-rest"]}
        return [rest, stream]

    def _polled(self, key: str, how: str, target: str, paths: list[str]) -> Scenario:
        ages: list[float] = []
        sources: Counter = Counter()

        def seen(body: bytes) -> None:
            metadata = json.loads(body)["metadata"]
            sources[metadata["source"]] += 1
            if metadata["data_freshness_seconds"] is not None:
                ages.append(metadata["data_freshness_seconds"])

        reset_client_limits()
        args = self.args
        phase = self.measure(
            key, "opitios", self.opitios,
            f"GET /stocks/<symbol>/quote over {len(paths)} hot symbols in turn for {args.poll_duration} s, {how}",
            lambda: generators.python_loop(self.opitios.port, [Request("GET", path) for path in paths],
                                           concurrency=args.poll_connections, duration_s=args.poll_duration,
                                           headers=self.headers, on_body=seen),
        )
        ages.sort()
        scenario = Scenario(key, f"{len(paths)} hot symbols polled, {how}", phase, None, target)
        scenario.details.update({
            "snapshot calls": phase.upstream_by_path.get(SNAPSHOTS, 0),
            "age median s": round(ages[len(ages) // 2], 3) if ages else None,
            "age p99 s": round(ages[min(len(ages) - 1, int(len(ages) * 0.99))], 3) if ages else None,
            "sources": dict(sources),
        })
        print(f"bench: {key}: answers' age median {scenario.details['age median s']} s, "
              f"p99 {scenario.details['age p99 s']} s; {scenario.details['snapshot calls']} snapshot calls; "
              f"sources {dict(sources)}", flush=True)
        return scenario

    def _until_streamed(self, paths: list[str], bound_s: float = 60) -> float:
        """Ask for every symbol until each answer comes from the stream (asking is what makes them hot)."""
        started = time.monotonic()
        waiting = set(paths)
        while waiting and time.monotonic() < started + bound_s:
            for path in sorted(waiting):
                status, body = self.ask(self.opitios, Request("GET", path))
                if status == 200 and json.loads(body)["metadata"]["source"] == "stream":
                    waiting.discard(path)
            time.sleep(0.1)
        if waiting:
            print(f"bench: (f) {len(waiting)} symbols still not streamed after {bound_s:.0f} s", flush=True)
        return round(time.monotonic() - started, 1)

    def profile(self, binary: str, output: Path) -> dict:
        """Scenario (a)'s traffic once more, on opitios alone, with py-spy on its workers (not measured)."""
        self.warm([Request("GET", QUOTE)])
        seconds = self.args.duration * ROUNDS.count("opitios")  # as long as (a)'s opitios phases together
        recording = pyspy.start(binary, self.opitios.pid, seconds, output)
        time.sleep(1)  # py-spy attaches before the load starts
        phase = self.measure("a-profiled", "opitios", self.opitios, "(a) again, with py-spy attached",
                             self.loop(self.opitios, Traffic([Request("GET", QUOTE)]), concurrency=self.args.concurrency,
                                       duration=seconds - 2))
        problem = pyspy.finish(recording, seconds)
        if problem or not output.exists():
            return {"error": problem or "py-spy wrote nothing"}
        return {"raw": str(output), "rps_while_profiled": round(phase.load.rps), **pyspy.summarize(output.read_text())}

    # --- checking answers --------------------------------------------------------------------------

    @staticmethod
    def _judge(answers: list[generators.Answer], known: set[str]) -> tuple[dict[str, int], dict[str, int]]:
        """Each answer of the burst sorted into what it is: real data, a real 'no data', an envelope, or wrong."""
        verdicts: dict[str, int] = {}
        codes: dict[str, int] = {}
        for answer in answers:
            symbol = answer.request.path.split("/")[-2]
            verdict = "no answer" if answer.status is None else _verdict(answer, symbol, symbol in known)
            verdicts[verdict] = verdicts.get(verdict, 0) + 1
            if answer.status is not None and answer.status >= 400:
                try:
                    code = json.loads(answer.body)["error"]["code"]
                except (ValueError, KeyError, TypeError):
                    code = "(no error envelope)"
                codes[f"{answer.status} {code}"] = codes.get(f"{answer.status} {code}", 0) + 1
        return verdicts, codes

    @staticmethod
    def _chunks(symbols: list[str]) -> list[list[str]]:
        return [symbols[start:start + BATCH_SIZE] for start in range(0, len(symbols), BATCH_SIZE)]


def _verdict(answer: generators.Answer, symbol: str, known: bool) -> str:
    try:
        body = json.loads(answer.body)
    except ValueError:
        return f"wrong: {answer.status} not JSON"
    if answer.status == 200:
        data, metadata = body.get("data") or {}, body.get("metadata") or {}
        if known and data.get("symbol") == symbol and metadata.get("data_source"):
            return "200 real quote"
        return "wrong: 200 without the symbol's data" if known else "wrong: 200 for a symbol the upstream does not know"
    error = body.get("error") or {}
    if answer.status == 404:
        if not known and error.get("code") == "SYMBOL_NOT_FOUND":
            return "404 SYMBOL_NOT_FOUND (the upstream has no data)"
        return f"wrong: 404 {error.get('code')} for {'a known' if known else 'an unknown'} symbol"
    if answer.status in (429, 503):
        if error.get("code") and answer.headers.get("retry-after"):
            return f"{answer.status} envelope with Retry-After"
        return f"wrong: {answer.status} without an envelope or Retry-After"
    return f"wrong: status {answer.status}"


def machine(args: argparse.Namespace, generator: str) -> dict:
    """What the numbers depend on: host, versions, the gunicorn settings in force, the tree measured."""
    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))  # the same file gunicorn reads, so the same values
    settings = {name: conf.get(name) for name in ("worker_class", "worker_connections", "timeout", "keepalive",
                                                  "max_requests", "max_requests_jitter", "accesslog", "loglevel")}
    return {
        "date_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "nproc": os.cpu_count(),
        "cpu": _cpu_model(),
        "loadavg_before": [round(value, 2) for value in os.getloadavg()],
        "python": platform.python_version(),
        "gunicorn": version("gunicorn"),
        "gevent": version("gevent"),
        "flask": version("flask"),
        "gunicorn_settings": {"config": "gunicorn.conf.py", "workers": args.workers, **settings},
        "generator": generator,
        "wrk_threads": 2,
        "duration_s": args.duration,
        "rounds": list(ROUNDS),
        "concurrency": args.concurrency,
        "stress": {"connections": args.stress_connections, "duration_s": args.stress_duration},
        "round_robin_symbols": args.round_robin_symbols,
        "burst": {"requests": args.burst_requests, "symbols": args.burst_symbols},
        "upstream_latency_ms": args.upstream_latency_ms,
        "sandbox_market": args.market,
        "bare_body_bytes": BODY_BYTES,
        "git_head": _git("rev-parse", "--short", "HEAD"),
        "git_uncommitted_paths": len(_git("status", "--porcelain").splitlines()),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _git(*command: str) -> str:
    # Read-only git commands: the tree measured may carry uncommitted work, and the report says so.
    try:
        return subprocess.run(["git", *command], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie waiting to be reaped is not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    began = time.monotonic()
    wrk = None if args.generator == "python" else generators.ensure_wrk()
    if args.generator == "wrk" and wrk is None:
        sys.exit("bench: --generator wrk, but wrk is missing and could not be installed")
    py_spy = pyspy.find_py_spy() if args.profile else None
    if args.profile and py_spy is None:
        sys.exit("bench: --profile needs py-spy: .venv/bin/pip install py-spy")
    redis_problem = forget_keys()
    if redis_problem:
        sys.exit(f"bench: {redis_problem}; the benchmark measures opitios with its real Redis")
    summary = machine(args, "wrk" if wrk else "python")
    started: set[int] = set()
    profile = None
    with tempfile.TemporaryDirectory(prefix="opitios-bench-") as folder, SandboxServer() as sandbox:
        started.add(sandbox.pid)
        # Every API call waits latency_ms; the forced market state makes quote TTLs 5 s whatever the hour.
        sandbox.switches(market=args.market, latency_ms=args.upstream_latency_ms)
        database, keys = keyed_database(Path(folder), keys=BATCH_KEYS)
        budget = section(database, "upstream")["requests_per_minute"]
        summary.update(upstream_budget_per_minute=budget, rate_limits=section(database, "rate_limits"),
                       access=section(database, "access"), redis=f"{REDIS_URL}, keys under {REDIS_PREFIX}:, deleted before the run and before (d)")
        env = {**sandbox.gateway_env(), "DATABASE_URL": database, "REDIS_URL": REDIS_URL,
               "OPITIOS_REDIS_PREFIX": REDIS_PREFIX}
        with GunicornServer("wsgi:app", workers=args.workers, env=env) as opitios, \
                GunicornServer("bench.bare:app", workers=args.workers, env=env, ready_path=None) as bare:
            started.update({opitios.pid, bare.pid})
            bench = Bench(sandbox, opitios, bare, keys, budget, wrk, args, env)
            try:
                # Warm both apps on routes that never reach the upstream (Flask's first-request costs, imports).
                bench.loop(opitios, Traffic([Request("GET", "/api/v1/health")]), concurrency=8, duration=1)()
                bench.loop(bare, Traffic([Request("GET", QUOTE)]), concurrency=8, duration=1)()
                bench.check_authentication()
                scenarios = {}
                # (d) first: fresh workers, an empty Redis, no entry in any worker's memory.
                for letter, run in (("d", bench.cold_burst), ("a", bench.hot_quote), ("b", bench.round_robin),
                                    ("c", bench.batch), ("e", bench.stress), ("f", bench.hot_set)):
                    if letter in args.scenarios:
                        done = run()
                        for scenario in done if isinstance(done, list) else [done]:
                            scenarios[scenario.key] = scenario
                if py_spy:
                    profile = bench.profile(py_spy, args.out.with_suffix(".pyspy.txt"))
                summary["checks"] = bench.checks
            finally:
                started |= opitios.worker_pids() | bare.worker_pids() | bench.streamer_pids
    left = sorted(pid for pid in started if _running(pid))
    summary.update(wall_seconds=round(time.monotonic() - began, 1), processes_left_behind=left)
    ordered = [scenarios[key] for key in sorted(scenarios)]  # (a) … (e), (f-rest), (f-stream)
    print()
    headline = (f"opitios vs bare Flask, {summary['date_utc']}, {summary['nproc']} cores, {args.workers} gevent workers "
                f"each, {summary['generator']}, sandbox latency {args.upstream_latency_ms} ms, market {args.market}")
    print(f"{headline}, upstream budget {budget}/min, bare body {BODY_BYTES} bytes")
    print(table(ordered))
    print()
    print(details(ordered))
    if profile is not None:
        summary["profile"] = profile
        print("\nprofile of (a), repeated on opitios alone with py-spy attached:")
        print(pyspy.render(profile) if "error" not in profile else f"  {profile['error']}")
    summary["chart"] = str(chart.render(ordered, args.chart, headline))
    write_json(args.out, summary, ordered)
    print(f"\nChart: {summary['chart']}")
    print(f"JSON: {args.out}  (whole run {summary['wall_seconds']} s; "
          f"processes left behind: {', '.join(map(str, left)) or 'none'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
