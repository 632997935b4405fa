"""`python -m bench.faults` (`make faults`): a fault run of opitios under gunicorn, about three and a half minutes.

opitios (2 gevent workers) serves steady client load against the sandbox upstream while the run injects,
one after another: upstream 500s, 503s, timeouts, latency, a slow market clock, a Redis kill and empty
restart (a redis-server of the run's own), a PostgreSQL outage (a TCP proxy of the run's own in front of
the machine's server, cut and restored) and an upstream 429. It prints what clients and the upstream saw:
upstream calls per 60 s window, 5xx answers, stale-marked answers, and answers that claim to be fresh
while their data is older than their TTL (which must be none). Everything it starts it stops by pid.
"""

from __future__ import annotations

import bisect
import itertools
import json
import random
import re
import sys
import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone

import requests
from sqlalchemy import text, update

from harness.redis_server import RedisServer
from harness.servers import GunicornServer
from opitios.access.keys import create_key
from opitios.db import make_engine
from opitios.migrate import upgrade
from opitios.models import ApiConfiguration
from sandbox.client import SandboxServer
from harness.tcp_proxy import TcpProxy

SCHEMA = "opitios_fault_run"
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:{port}/test?options=-csearch_path%3D" + SCHEMA
DATA, CLOCK = "/v2/stocks", "/v2/clock"
BUDGET = 190  # upstream.requests_per_minute, the default
OPEN_SECONDS = 10  # the circuit's open period for this run (60 by default), so it recovers within a phase
# The sandbox lives a week behind (same weekday and hour, market forced open): its quotes are stamped at
# its now, which the run keeps moving, while every boundary its clock answers is already past for opitios.
OFFSET = timedelta(days=7)
QUOTE_TTL = {"open": 5, "unknown": 5, "closed": 300}  # the default stock-quote TTLs, by market_status
# How old a fresh quote may look: the sandbox stamps quotes up to 1.5 s before its now, which lags ours by
# at most one sync round (0.2 s, plus the control call on a loaded machine).
SLACK_SECONDS = 2.5
SAMPLE_SECONDS = 0.2
JUDGE_WINDOW = QUOTE_TTL["open"] + SLACK_SECONDS + 1  # how far back the sandbox's clock must have been moving

Step = tuple[int, str, str]  # (second of the run, phase name, what changes)
SCHEDULE: list[Step] = [
    (0, "steady", "clear"),
    (20, "upstream 500", "error 500"),
    (30, "recovering from 500", "clear"),
    (45, "upstream 503", "error 503"),
    (55, "recovering from 503", "clear"),
    (70, "upstream timeouts", "latency 3000"),
    (80, "upstream latency 300 ms", "latency 300"),
    (90, "clock 3 s", "clock latency"),
    (100, "clock 3 s, Redis killed", "kill redis"),
    (110, "clock 3 s, Redis back empty", "start redis"),
    (125, "clock 3 s, PostgreSQL stopped", "stop postgres"),
    (140, "clock 3 s, PostgreSQL back", "start postgres"),
    (160, "upstream 429", "error 429"),
    (170, "steady again", "clear"),
    (190, "end", "end"),
]


def sandbox_now(wall: float) -> str:
    return (datetime.fromtimestamp(wall, timezone.utc) - OFFSET).isoformat()


def stamp_seconds(stamp: str) -> float:
    """Epoch seconds of an RFC 3339 stamp with up to nanoseconds (Alpaca's), to the microsecond."""
    trimmed = re.sub(r"(\.\d{6})\d+", r"\1", stamp).replace("Z", "+00:00")
    return datetime.fromisoformat(trimmed).timestamp()


class Run:
    def __init__(self, sandbox: SandboxServer, gateway: GunicornServer, redis_server: RedisServer, proxy: TcpProxy, key: str):
        self.sandbox, self.gateway, self.redis, self.proxy = sandbox, gateway, redis_server, proxy
        self.headers = {"X-API-Key": key}
        catalog = sandbox.catalog()
        self.hot = [s for s in catalog["stocks"] if s not in catalog["special"].values()][:12]
        self.phase = "setup"
        self.records: list[dict] = []
        self.samples: list[tuple[float, int, int]] = []  # (monotonic, upstream calls, clock calls)
        self.synced: list[float] = []  # wall-clock times the sandbox's clock was set
        self.log_marks: dict[str, int] = {}
        self.phase_starts: dict[str, float] = {}  # phase name → monotonic time it began
        self._stop = threading.Event()

    # --- what the run changes --------------------------------------------------------------------

    def apply(self, change: str) -> None:
        switches = {"clear": dict(error_status=None, error_count=None, latency_ms=0, path_prefix=None),
                    "error 500": dict(error_status=500, path_prefix=DATA),
                    "error 503": dict(error_status=503, path_prefix=DATA),
                    "error 429": dict(error_status=429, error_count=1, path_prefix=DATA),
                    "latency 3000": dict(latency_ms=3000, path_prefix=DATA),
                    "latency 300": dict(latency_ms=300, path_prefix=DATA),
                    "clock latency": dict(latency_ms=3000, path_prefix=CLOCK)}
        if change in switches:
            self.sandbox.switches(**{"error_status": None, "error_count": None, "latency_ms": 0, **switches[change]})
        elif change == "kill redis":
            self.redis.kill()
        elif change == "start redis":
            self.redis.start()
        elif change == "stop postgres":
            self.log_marks["postgres stopped"] = self.gateway.log_size()
            self.proxy.stop()
        elif change == "start postgres":
            self.proxy.start()
            self.log_marks["postgres back"] = self.gateway.log_size()

    # --- load and sampling -----------------------------------------------------------------------

    def ask(self, session: requests.Session, kind: str, path: str) -> None:
        sent = time.time()
        started = time.monotonic()
        try:
            response = session.get(self.gateway.url + path, headers=self.headers, timeout=15)
        except requests.RequestException as error:
            self.records.append({"phase": self.phase, "kind": kind, "status": 0, "error": error.__class__.__name__})
            return
        body = response.json() if response.headers.get("Content-Type", "").startswith("application/json") else {}
        metadata = body.get("metadata") or {}
        self.records.append({
            "phase": self.phase, "kind": kind, "status": response.status_code, "sent": sent,
            "seconds": time.monotonic() - started, "header": response.headers.get("X-Cache-Status"),
            "cache": metadata.get("cache"), "market": metadata.get("market_status"),
            "stamp": metadata.get("data_timestamp"), "code": response.headers.get("X-Error-Code"),
        })

    def hot_client(self, seed: int) -> None:
        choose = random.Random(seed)
        with requests.Session() as session:
            while not self._stop.is_set():
                roll, symbol = choose.random(), choose.choice(self.hot)
                if roll < 0.55:
                    self.ask(session, "quote", f"/api/v1/stocks/{symbol}/quote")
                elif roll < 0.75:
                    self.ask(session, "batch", "/api/v1/stocks/quotes?symbols=" + ",".join(choose.sample(self.hot, 3)))
                elif roll < 0.9:
                    self.ask(session, "bars", f"/api/v1/stocks/{symbol}/bars?timeframe=1Day&limit=5")
                else:
                    self.ask(session, "chain", "/api/v1/options/AAPL/chain?limit=5")
                time.sleep(0.02)

    def cold_client(self) -> None:
        """Quotes nobody asked for before, 4 a second: more than the budget refills, so it is always binding."""
        with requests.Session() as session:
            for number in itertools.count():
                if self._stop.wait(0.25):
                    return
                self.ask(session, "cold", f"/api/v1/stocks/ZC{number:05d}X/quote")

    def sampler(self) -> None:
        """Keeps the sandbox's clock a week behind ours, and counts its calls (on a session of its own)."""
        control = self.sandbox.url + "/_sandbox/"
        with requests.Session() as session:
            while not self._stop.wait(SAMPLE_SECONDS):
                try:
                    now = time.time()
                    session.post(control + "switches", json={"now": sandbox_now(now)}, timeout=2).raise_for_status()
                    self.synced.append(now)
                    by_path = session.get(control + "calls", timeout=2).json()["by_path"]
                except (requests.RequestException, ValueError):
                    continue
                self.samples.append((time.monotonic(), sum(by_path.values()), by_path.get(CLOCK, 0)))

    def run(self) -> float:
        sampler = threading.Thread(target=self.sampler)
        sampler.start()
        # Quotes fetched from now on carry the sandbox's moving clock; judging one needs a TTL of it behind.
        time.sleep(JUDGE_WINDOW)
        self.sandbox.clear_calls()
        threads = [sampler, threading.Thread(target=self.cold_client)]
        threads += [threading.Thread(target=self.hot_client, args=(seed,)) for seed in range(6)]
        started = time.monotonic()
        for thread in threads[1:]:
            thread.start()
        try:
            for second, name, change in SCHEDULE:
                time.sleep(max(0.0, started + second - time.monotonic()))
                self.apply(change)
                self.phase, self.phase_starts[name] = name, time.monotonic()
                self.log_marks[name] = self.gateway.log_size()
                print(f"faults: {second:3d} s  {name}", flush=True)
                if change == "end":
                    break
        finally:
            self._stop.set()
            for thread in threads:
                thread.join()
        return time.monotonic() - started

    # --- what it saw -----------------------------------------------------------------------------

    def window_calls(self, span: float) -> int:
        """The most upstream calls between two samples at most ``span`` seconds apart."""
        best, first = 0, 0
        for at, calls, _ in self.samples:
            while at - self.samples[first][0] > span:
                first += 1
            best = max(best, calls - self.samples[first][1])
        return best

    def calls_between(self, start: float, end: float) -> tuple[int, int]:
        """(upstream calls, clock calls) counted between two moments, from the samples nearest them."""
        inside = [sample for sample in self.samples if start <= sample[0] <= end]
        if len(inside) < 2:
            return 0, 0
        return inside[-1][1] - inside[0][1], inside[-1][2] - inside[0][2]

    def clock_moved(self, start: float, end: float) -> bool:
        """Whether the sandbox's clock was set at least once a second from ``start`` to ``end``."""
        first = bisect.bisect_right(self.synced, start) - 1
        last = bisect.bisect_right(self.synced, end)
        if first < 0:
            return False
        times = self.synced[first:last] + [end]
        return all(later - earlier <= 1.0 for earlier, later in zip(times, times[1:]))

    def fresh_claims_while_stale(self) -> tuple[list[dict], int]:
        """Quote answers not marked stale whose quote is older than their TTL (judged by the sandbox's stamp),
        and how many could not be judged (the sandbox's clock had not been set for over a second)."""
        wrong, unjudged = [], 0
        for record in self.records:
            if record["kind"] not in ("quote", "batch") or record["status"] != 200 or record["cache"] == "stale":
                continue
            ttl = QUOTE_TTL[record["market"]]
            if not self.clock_moved(record["sent"] - ttl - SLACK_SECONDS - 1, record["sent"]):
                unjudged += 1
                continue
            age = record["sent"] - OFFSET.total_seconds() - stamp_seconds(record["stamp"])
            if age > ttl + SLACK_SECONDS:
                wrong.append({**record, "age": round(age, 2)})
        return wrong, unjudged

    def log_lines(self, needle: str, start: str | None = None) -> int:
        return self.gateway.log_since(self.log_marks.get(start, 0) if start else 0).count(needle)

    def booted_between(self, phase: str, next_phase: str) -> int:
        """gunicorn workers booted during a phase (recycled after max_requests: a request may wait on one)."""
        text = self.gateway.log_since(self.log_marks.get(phase, 0))
        end = self.log_marks.get(next_phase)
        if end is not None:
            text = text[: max(0, end - self.log_marks.get(phase, 0))]
        return text.count("Booting worker with pid")

    def warnings(self) -> Counter:
        """opitios's warning and error lines, by message (numbers and ids blanked, so alike lines add up)."""
        found = Counter()
        for line in self.gateway.log_since(0).splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and record.get("level") in ("WARNING", "ERROR", "CRITICAL"):
                found[re.sub(r"[0-9a-f]{8}|\d+(\.\d+)?", "#", str(record.get("message")))[:110]] += 1
        return found


def percentile(sorted_ms: list[float], share: float) -> str:
    if not sorted_ms:
        return "-"
    return f"{sorted_ms[min(len(sorted_ms) - 1, int(share * len(sorted_ms)))]:.0f} ms"


def report(run: Run, seconds: float) -> bool:
    records = run.records
    print(f"\nfaults: {len(records)} answers in {seconds:.0f} s; budget {BUDGET} upstream calls a minute, circuit open "
          f"{OPEN_SECONDS} s, 2 workers\n")
    print("429u: UPSTREAM_RATE_LIMITED (the budget is spent, no stale answer); 429c: RATE_LIMIT_EXCEEDED (client limit);")
    print("cold quotes (4/s, each an upstream call) ask more than the budget refills, so the budget is always binding.\n")
    print(f"{'phase':30} {'answers':>7} {'2xx':>6} {'404':>5} {'429u':>5} {'429c':>5} {'5xx':>4} {'stale':>6} "
          f"{'HIT p50':>8} {'HIT p99':>8} {'HIT max':>8} {'calls':>6} {'clock':>5} {'boots':>5}")
    ends = [run.phase_starts.get(name) for _, name, _ in SCHEDULE[1:]]
    for (_, name, _), end, (_, next_name, _) in zip(SCHEDULE[:-1], ends, SCHEDULE[1:]):
        mine = [r for r in records if r["phase"] == name]
        hits = sorted(r["seconds"] * 1000 for r in mine if r.get("header") == "HIT")
        statuses = Counter(r["status"] for r in mine)
        codes = Counter(r.get("code") for r in mine if r["status"] == 429)
        calls, clock = run.calls_between(run.phase_starts.get(name, 0), end or float("inf"))
        boots = run.booted_between(name, next_name)
        print(f"{name:30} {len(mine):7d} {sum(n for s, n in statuses.items() if 200 <= s < 300):6d} {statuses[404]:5d} "
              f"{codes['UPSTREAM_RATE_LIMITED']:5d} {codes['RATE_LIMIT_EXCEEDED']:5d} "
              f"{sum(n for s, n in statuses.items() if s >= 500):4d} {sum(1 for r in mine if r.get('cache') == 'stale'):6d} "
              f"{percentile(hits, 0.5):>8} {percentile(hits, 0.99):>8} {percentile(hits, 1.0):>8} "
              f"{calls:6d} {clock:5d} {boots:5d}")
    server_errors = Counter(r.get("code") for r in records if r["status"] >= 500)
    no_answer = Counter(r["error"] for r in records if r["status"] == 0)
    stale = [r for r in records if r.get("cache") == "stale"]
    mismatched = [r for r in records if r["status"] == 200 and (r.get("header") == "STALE") != (r.get("cache") == "stale")]
    wrong, unjudged = run.fresh_claims_while_stale()
    inner, outer = run.window_calls(60.0), run.window_calls(60.0 + 2 * SAMPLE_SECONDS)
    clock_calls = run.samples[-1][2] if run.samples else 0
    print()
    print(f"upstream calls: {run.samples[-1][1] if run.samples else 0} in all; per 60 s window (max): {inner}-{outer} "
          f"(sampled every {SAMPLE_SECONDS} s; budget {BUDGET})")
    print(f"market clock calls: {clock_calls} in {seconds:.0f} s (a clock answering past boundaries; at most one a "
          f"minute per worker: {2 * (int(seconds // 60) + 1)})")
    print(f"5xx answers: {sum(server_errors.values())} ({', '.join(f'{c} {n}' for c, n in server_errors.most_common()) or '-'}); "
          f"500 INTERNAL_SERVICE_ERROR: {server_errors.get('INTERNAL_SERVICE_ERROR', 0)}; no answer: {sum(no_answer.values())}")
    print(f"stale-marked answers: {len(stale)} (header and metadata disagree: {len(mismatched)})")
    print(f"answers claiming fresh while stale: {len(wrong)} (quote answers not judged, the sandbox's clock having "
          f"stood still for over 1 s within their TTL + {SLACK_SECONDS + 1} s: {unjudged})")
    for record in wrong[:5]:
        print(f"  {record}")
    print(f"log lines 'keeping the last verdict' during the PostgreSQL outage: "
          f"{run.log_lines('keeping the last verdict', 'postgres stopped') - run.log_lines('keeping the last verdict', 'postgres back')}; "
          f"'redis unavailable': {run.log_lines('redis unavailable')}; 'market clock unavailable': "
          f"{run.log_lines('market clock unavailable')}")
    booted = run.gateway.log_since(0).count("Booting worker with pid")
    print(f"gunicorn workers booted: {booted} (2 at start; more are recycled ones, max_requests)")
    print("opitios's warnings and errors, by message:")
    for message, count in run.warnings().most_common(12):
        print(f"  {count:5d}  {message}")
    return not wrong and inner <= BUDGET and not server_errors.get("INTERNAL_SERVICE_ERROR") and not no_answer


def prepare_database(direct_url: str) -> str:
    """A fresh schema of the machine's PostgreSQL, migrated, with a read key and this run's settings."""
    engine = make_engine(direct_url)
    try:
        with engine.begin() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
            connection.execute(text(f"CREATE SCHEMA {SCHEMA}"))
        upgrade(direct_url, quiet=True)
        key, _ = create_key(engine, "fault run", ["read"])
        table = ApiConfiguration.__table__
        with engine.begin() as connection:
            for name, config in (("rate_limits", {"keyed_per_minute": 1_000_000, "keyed_per_hour": 1_000_000}),
                                 ("upstream", {"circuit_open_seconds": OPEN_SECONDS})):
                connection.execute(update(table).where(table.c.name == name).values(config=config))
        return key
    finally:
        engine.dispose()


def drop_database(direct_url: str) -> None:
    engine = make_engine(direct_url)
    try:
        with engine.begin() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
    finally:
        engine.dispose()


def main() -> int:
    direct_url = POSTGRES.format(port=5432)
    key = prepare_database(direct_url)
    started = []  # what this run started, stopped in reverse order (each by its own pid or socket)
    try:
        sandbox = SandboxServer().start()
        started.append(sandbox)
        # Before opitios starts, so its first clock ask already sees the boundaries past.
        sandbox.switches(market="open", now=sandbox_now(time.time()))
        redis_server = RedisServer().start()
        started.append(redis_server)
        proxy = TcpProxy(5432).start()
        started.append(proxy)
        env = {**sandbox.gateway_env(), "DATABASE_URL": POSTGRES.format(port=proxy.port), "REDIS_URL": redis_server.url,
               "OPITIOS_UPSTREAM_TIMEOUT": "2"}
        gateway = GunicornServer("wsgi:app", workers=2, env=env)
        started.append(gateway)
        gateway.start()
        print(f"faults: opitios {gateway.url} (pid {gateway.pid}), sandbox {sandbox.url}, redis-server pid "
              f"{redis_server.pid} on {redis_server.port}, PostgreSQL through 127.0.0.1:{proxy.port}", flush=True)
        run = Run(sandbox, gateway, redis_server, proxy, key)
        seconds = run.run()
        passed = report(run, seconds)
        if not passed:
            keep_log = gateway.log_path
            gateway.log_path = ""  # so it is kept for reading
            print(f"faults: FAILED; opitios's log is kept at {keep_log}")
        return 0 if passed else 1
    finally:
        for thing in reversed(started):
            thing.stop()
            if isinstance(thing, GunicornServer):
                thing.remove_log()
        drop_database(direct_url)


if __name__ == "__main__":
    sys.exit(main())
