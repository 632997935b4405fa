"""``python -m cluster start|stop|status|compose-files`` (``make cluster`` / ``make cluster-stop``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.servers import ROOT
from cluster.compose import write_compose_files
from cluster.local import LocalCluster
from cluster.processes import Processes
from cluster.topology import INSTANCES

RUN_DIR = ROOT / "instance" / "cluster"


def _start(run_dir: Path) -> int:
    cluster = LocalCluster(run_dir)
    print(f"cluster: starting in {run_dir} (logs and pid files there); this takes a minute", flush=True)
    try:
        cluster.start()
    except Exception as error:  # noqa: BLE001 -- whatever stopped the start, say it in one message
        print(f"cluster: {type(error).__name__}: {error}\ncluster: every process started was stopped; the logs stay in "
              f"{run_dir}", file=sys.stderr)
        return 1
    ports = cluster.ports
    print(f"""cluster: up (SANDBOX data: synthetic, not real market data)
  nginx (clients)     {cluster.url}/api/v1/stocks/AAPL/quote
  opitios instances   {', '.join(cluster.instance_url(name) for name in INSTANCES)}
  Prometheus          {cluster.prometheus_url}/targets
  Redis via Sentinel  {cluster.redis.url()} (primary :{ports.redis_primary}, replica :{ports.redis_replica})
  PostgreSQL          {cluster.database_url}
  sandbox upstream    {cluster.sandbox_url}/_sandbox/calls
market data is open to anonymous clients; a key for trading:
  DATABASE_URL={cluster.database_url} .venv/bin/opitios keys create --name me --scopes read,trade
stop it all with: make cluster-stop""")
    return 0


def _stop(run_dir: Path) -> int:
    processes = Processes(run_dir)
    names = [name for name in processes.names() if processes.alive(name)]
    processes.stop_all()
    print(f"cluster: stopped {', '.join(names) if names else 'nothing (none was running)'}")
    return 0


def _status(run_dir: Path) -> int:
    processes = Processes(run_dir)
    for name in processes.names():
        pid = processes.pid(name)
        print(f"{name:15} {'pid ' + str(pid) if pid else 'not running'}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cluster", description=__doc__)
    parser.add_argument("command", choices=["start", "stop", "status", "compose-files"])
    parser.add_argument("--run-dir", type=Path, default=RUN_DIR, help="logs, pid files and configs (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.command == "compose-files":
        for path in write_compose_files():
            print(f"cluster: wrote {path.relative_to(ROOT)}")
        return 0
    return {"start": _start, "stop": _stop, "status": _status}[args.command](args.run_dir.resolve())


if __name__ == "__main__":
    sys.exit(main())
