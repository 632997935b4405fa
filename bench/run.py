"""`python -m bench.run`: opitios and a bare Flask app under the same gunicorn, measured side by side against the sandbox."""

from __future__ import annotations

import argparse
import json
import os
import platform
import runpy
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path

from bench import load as generators
from bench.report import Phase, access_summary, ratios, table, write_json
from bench.servers import ROOT, GunicornServer, access_entries
from bench.stores import REDIS_URL, flush_redis, migrated_sqlite
from sandbox.client import SandboxServer

QUOTE = "/api/v1/stocks/AAPL/quote"
BATCH = "/api/v1/stocks/quotes/batch"
BATCH_SIZE = 20  # the default limits.max_batch_symbols
UNTHROTTLED = 1_000_000_000  # requests per minute: a sandbox budget the hot loop cannot spend


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--duration", type=int, default=10, help="seconds per hot phase (default 10)")
    parser.add_argument("--concurrency", type=int, default=64, help="connections in a hot phase (default 64)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers of each app (default 2)")
    parser.add_argument("--generator", choices=("auto", "wrk", "python"), default="auto",
                        help="auto: wrk, installed with apt-get when missing, else the Python loop")
    parser.add_argument("--market", choices=("open", "closed", "auto"), default="open",
                        help="the sandbox's market state (default open: the shortest quote TTL, whatever the hour)")
    parser.add_argument("--out", type=Path, default=Path("/tmp/opitios-bench.json"), help="JSON results file")
    return parser.parse_args(argv)


class Bench:
    """Runs the phases against one sandbox, one opitios and one bare app, all started by main()."""

    def __init__(self, sandbox: SandboxServer, wrk: str | None, args: argparse.Namespace) -> None:
        self.sandbox = sandbox
        self.wrk = wrk
        self.args = args

    def hot(self, server: GunicornServer, path: str, duration: float | None = None, concurrency: int | None = None):
        """A keep-alive loop on one path, bounded by time (and, in Python, by count)."""
        duration = duration or self.args.duration
        concurrency = concurrency or self.args.concurrency
        if self.wrk:
            return lambda: generators.wrk(self.wrk, server.url + path, concurrency=concurrency, duration_s=int(duration))
        return lambda: generators.python_loop(server.port, path, concurrency=concurrency, duration_s=duration)

    def reset_upstream(self, **switches) -> None:
        """Fresh sandbox counters and budget (200 requests a minute, like Alpaca's), then the market state."""
        # A forced market state makes the run independent of the hour it starts at: the cache's TTLs
        # and the gateway's market clock follow it.
        self.sandbox.reset()
        self.sandbox.switches(market=self.args.market, **switches)

    def measure(self, name: str, target: str, server: GunicornServer, what: str, run) -> Phase:
        before = self.sandbox.calls()["by_path"]
        offset = server.log_size()
        result = run()
        time.sleep(0.3)  # gunicorn writes an access line just after the answer; let the last ones land
        after = self.sandbox.calls()["by_path"]
        text = server.log_since(offset)
        by_path = {path: after[path] - before.get(path, 0) for path in after if after[path] != before.get(path, 0)}
        statuses, cache, per_worker = access_summary(access_entries(text))
        phase = Phase(name, target, what, result, sum(by_path.values()), by_path, statuses, cache, per_worker,
                      text.count("Booting worker with pid"))
        print(f"bench: {name}: {result.requests} requests, {result.rps:.0f} rps, "
              f"{phase.upstream_calls} upstream calls", flush=True)
        return phase

    def run(self, opitios: GunicornServer, bare: GunicornServer) -> dict[str, Phase]:
        catalog = self.sandbox.catalog()
        # NULLSNAP has no data by design (a 404); every other catalog stock has a quote.
        symbols = [symbol for symbol in catalog["stocks"] if symbol != catalog["special"]["null_snapshot"]]
        # Warm both apps on routes that never reach the upstream (Flask's first-request costs, imports).
        self.hot(opitios, "/api/v1/health", duration=1, concurrency=8)()
        self.hot(bare, QUOTE, duration=1, concurrency=8)()

        phases = {}
        self.reset_upstream()
        phases["cold-singles"] = self.measure(
            "cold-singles", "opitios", opitios,
            f"GET /stocks/<symbol>/quote for {len(symbols)} distinct symbols, all at once, once each",
            lambda: generators.burst(opitios.port, [("GET", f"/api/v1/stocks/{symbol}/quote", None) for symbol in symbols]),
        )
        chunks = [symbols[start:start + BATCH_SIZE] for start in range(0, len(symbols), BATCH_SIZE)]
        bodies = [json.dumps({"symbols": chunk, "max_age_seconds": 0}).encode() for chunk in chunks]
        phases["cold-batch"] = self.measure(
            "cold-batch", "opitios", opitios,
            f"POST {BATCH} with the same {len(symbols)} symbols in {len(chunks)} batches, max_age_seconds 0, at once",
            lambda: generators.burst(opitios.port, [("POST", BATCH, body) for body in bodies]),
        )
        self.reset_upstream()
        phases["hot-opitios"] = self.measure(
            "hot-opitios", "opitios", opitios,
            f"GET {QUOTE} in a keep-alive loop; sandbox upstream budget 200/min (Alpaca's)", self.hot(opitios, QUOTE),
        )
        # The baseline between the two opitios loops, so a drift in the machine's load shows in both ratios.
        phases["hot-bare"] = self.measure(
            "hot-bare", "bare", bare, f"GET {QUOTE} on bench/bare.py (constant body) in a keep-alive loop",
            self.hot(bare, QUOTE),
        )
        self.reset_upstream(rate_limit_per_minute=UNTHROTTLED)
        phases["hot-opitios-unthrottled"] = self.measure(
            "hot-opitios-unthrottled", "opitios", opitios,
            f"GET {QUOTE} in a keep-alive loop; sandbox budget lifted, so every miss reaches the upstream",
            self.hot(opitios, QUOTE),
        )
        self.sandbox.reset()
        return phases


def machine(args: argparse.Namespace, generator: str) -> dict:
    """What the numbers depend on: host, versions, the gunicorn settings in force, the tree measured."""
    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))  # the same file gunicorn reads, so the same values
    settings = {name: conf.get(name) for name in ("worker_class", "worker_connections", "timeout", "keepalive",
                                                  "max_requests", "max_requests_jitter", "accesslog", "loglevel")}
    return {
        "date_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "nproc": os.cpu_count(),
        "loadavg_before": [round(value, 2) for value in os.getloadavg()],
        "python": platform.python_version(),
        "gunicorn": version("gunicorn"),
        "gevent": version("gevent"),
        "flask": version("flask"),
        "gunicorn_settings": {"config": "gunicorn.conf.py", "workers": args.workers, **settings},
        "generator": generator,
        "duration_s": args.duration,
        "concurrency": args.concurrency,
        "sandbox_market": args.market,
        "git_head": _git("rev-parse", "--short", "HEAD"),
        "git_uncommitted_paths": len(_git("status", "--porcelain").splitlines()),
    }


def _git(*command: str) -> str:
    # Read-only git commands: the tree measured may carry uncommitted work, and the report says so.
    try:
        return subprocess.run(["git", *command], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    began = time.monotonic()
    wrk = None if args.generator == "python" else generators.ensure_wrk()
    if args.generator == "wrk" and wrk is None:
        sys.exit("bench: --generator wrk, but wrk is missing and could not be installed")
    summary = machine(args, "wrk" if wrk else "python")
    with tempfile.TemporaryDirectory(prefix="opitios-bench-") as folder, SandboxServer() as sandbox:
        sandbox.switches(market=args.market)  # before any worker reads the market clock
        database = migrated_sqlite(Path(folder))
        redis_problem = flush_redis()
        if redis_problem:
            print(f"bench: {redis_problem}; going on, REDIS_URL is passed anyway", flush=True)
        env = {**sandbox.gateway_env(), "DATABASE_URL": database, "REDIS_URL": REDIS_URL}
        with GunicornServer("wsgi:app", workers=args.workers, env=env) as opitios, \
                GunicornServer("bench.bare:app", workers=args.workers, env=env, ready_path=None) as bare:
            phases = Bench(sandbox, wrk, args).run(opitios, bare)
    summary.update(redis=redis_problem or f"{REDIS_URL} flushed", wall_seconds=round(time.monotonic() - began, 1))
    print()
    print(f"opitios vs bare Flask, {summary['date_utc']}, {summary['nproc']} cores, "
          f"{args.workers} gevent workers each, {summary['generator']}, {args.concurrency} connections, "
          f"sandbox market {args.market}")
    print(table(phases))
    print()
    for name, value in ratios(phases).items():
        print(f"{name}: {value}")
    write_json(args.out, summary, phases)
    print(f"\nJSON: {args.out}  (whole run {summary['wall_seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
