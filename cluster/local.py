"""LocalCluster: every service of the topology started on 127.0.0.1 in order, each ready before the next, stopped by pid."""

from __future__ import annotations

import json
import os
import sys
import urllib.parse
import urllib.request
from pathlib import Path

import gunicorn.config

from harness.servers import ROOT, access_entries, http_status
from cluster import database
from cluster.configs import nginx_main, nginx_site, prometheus_yml
from cluster.processes import Processes
from cluster.redis_set import HOST, RedisSet
from cluster.topology import INSTANCES, STREAMERS, WORKERS, Ports
from sandbox.client import SandboxServer

RULES = ROOT / "deploy" / "prometheus" / "opitios-alerts.yml"


def _gunicorn_has(setting: str) -> bool:
    return any(known.name == setting for known in gunicorn.config.KNOWN_SETTINGS)


class LocalCluster:
    def __init__(self, run_dir: Path, ports: Ports | None = None, database_name: str = "opitios_cluster",
                 scrape_interval: str = "1s", config: dict[str, dict] | None = None):
        """``config``: runtime configuration (section → values) in force from the instances' first request."""
        self.run_dir = run_dir.resolve()
        self.ports = ports or Ports()
        self.database_name = database_name
        self.database_url = database.url(database_name, self.ports.postgres)
        self.scrape_interval = scrape_interval
        self.config = config
        self.processes = Processes(self.run_dir)
        self.redis = RedisSet(self.processes, self.run_dir, self.ports.redis_primary, self.ports.redis_replica,
                              self.ports.sentinels)
        self.instance_ports = dict(zip(INSTANCES, self.ports.instances, strict=True))

    # --- addresses --------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """nginx: where clients go."""
        return f"http://{HOST}:{self.ports.nginx}"

    def instance_url(self, name: str) -> str:
        return f"http://{HOST}:{self.instance_ports[name]}"

    @property
    def sandbox_url(self) -> str:
        return f"http://{HOST}:{self.ports.sandbox}"

    @property
    def prometheus_url(self) -> str:
        return f"http://{HOST}:{self.ports.prometheus}"

    def sandbox(self) -> SandboxServer:
        """A control client of the cluster's sandbox (its switches, counters and call log)."""
        return SandboxServer.running_at(self.sandbox_url)

    # --- starting and stopping -------------------------------------------------------------------

    def start(self) -> "LocalCluster":
        self.run_dir.mkdir(parents=True, exist_ok=True)
        running = [name for name in self.processes.names() if self.processes.alive(name)]
        if running:
            raise RuntimeError(f"a cluster already runs from {self.run_dir} ({', '.join(running)}): stop it first")
        try:
            self._start_sandbox()
            database.create(self.database_name, self.ports.postgres, self.config)
            self.redis.start()
            self._start_instances()
            self._start_streamers()
            self._start_nginx()
            self._start_prometheus()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every process started, by pid, the last started first (the database stays)."""
        self.processes.stop_all()

    def _start_sandbox(self) -> None:
        self.processes.start("sandbox", [sys.executable, "-m", "sandbox", "--host", HOST, "--port", str(self.ports.sandbox),
                                         "--stream-port", str(self.ports.sandbox_stream)],
                             cwd=ROOT)
        self.processes.wait_ready(["sandbox"], lambda: http_status(self.ports.sandbox, "/_sandbox/health") == 200,
                                  "the sandbox")

    def instance_env(self, name: str) -> dict[str, str]:
        sandbox = self.sandbox()
        try:
            upstream = sandbox.gateway_env()
        finally:
            sandbox.stop()
        return {
            **os.environ, **upstream,
            "ALPACA_STREAM_URL": f"ws://{HOST}:{self.ports.sandbox_stream}",
            "OPITIOS_DEMO": "true",  # the upstream is the sandbox: say so in /health and the log
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis.url(),
            "OPITIOS_REDIS_PREFIX": "opitios",
            "OPITIOS_BIND": f"{HOST}:{self.instance_ports[name]}",
            "OPITIOS_WORKERS": str(WORKERS),
            "OPITIOS_TRUSTED_PROXIES": "1",  # nginx
            "PROMETHEUS_MULTIPROC_DIR": str(self.run_dir / f"{name}-metrics"),
        }

    def _start_instances(self) -> None:
        for name in INSTANCES:
            own = ["--pid", str(self.run_dir / f"{name}.pid")]
            if _gunicorn_has("control_socket"):  # gunicorn 25.1 and later
                own += ["--control-socket", str(self.run_dir / f"{name}.ctl")]
            self.processes.start(name, [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", *own, "wsgi:app"],
                                 env=self.instance_env(name), cwd=ROOT)
        for name in INSTANCES:
            self.processes.wait_ready([name], lambda name=name: self._every_worker_ready(name),
                                      f"{name} with {WORKERS} workers ready")

    def _start_streamers(self) -> None:
        """One streamer beside each instance, with its settings; the lease lets exactly one of them connect."""
        for instance, name in zip(INSTANCES, STREAMERS, strict=True):
            # Not the instance's metrics folder: its gunicorn owns and empties that (the stream's
            # metrics are read from Redis by the instances at scrape time).
            env = {key: value for key, value in self.instance_env(instance).items() if key != "PROMETHEUS_MULTIPROC_DIR"}
            self.processes.start(name, [sys.executable, "-m", "opitios", "stream"], env=env, cwd=ROOT)
        self.processes.wait_ready(list(STREAMERS), lambda: self.stream_connections() == 1,
                                  "one streamer connected to the sandbox's stream")

    def stream_connections(self) -> int:
        """How many stream connections the cluster's sandbox has open now."""
        sandbox = self.sandbox()
        try:
            return sandbox.stream()["open"]
        finally:
            sandbox.stop()

    def _every_worker_ready(self, name: str) -> bool:
        if http_status(self.instance_ports[name], "/api/v1/health/ready") != 200:
            return False
        # Each probe is a new connection that any idle worker may take: all of them have answered once.
        return len({entry.pid for entry in access_entries(self.processes.log(name).read_text())}) >= WORKERS

    def _start_nginx(self) -> None:
        (self.run_dir / "nginx-temp").mkdir(exist_ok=True)
        site = nginx_site(f"{HOST}:{self.ports.nginx}", [f"{HOST}:{port}" for port in self.instance_ports.values()])
        conf = self.run_dir / "nginx.conf"
        conf.write_text(nginx_main(str(self.run_dir), site))
        self.processes.start("nginx", ["nginx", "-p", str(self.run_dir), "-e", str(self.run_dir / "nginx-error.log"),
                                       "-c", str(conf)], cwd=self.run_dir)
        self.processes.wait_ready(["nginx"], lambda: http_status(self.ports.nginx, "/api/v1/health") == 200, "nginx in front")

    def _start_prometheus(self) -> None:
        conf = self.run_dir / "prometheus.yml"
        conf.write_text(prometheus_yml([f"{HOST}:{port}" for port in self.instance_ports.values()], str(RULES),
                                       self.scrape_interval))
        self.processes.start("prometheus", [
            "prometheus", f"--config.file={conf}", f"--storage.tsdb.path={self.run_dir / 'prometheus-data'}",
            f"--web.listen-address={HOST}:{self.ports.prometheus}", "--log.level=warn",
        ], cwd=self.run_dir)
        self.processes.wait_ready(["prometheus"], lambda: http_status(self.ports.prometheus, "/-/ready") == 200, "Prometheus")

    # --- looking ----------------------------------------------------------------------------------

    def query(self, promql: str) -> list[dict]:
        """An instant PromQL query's result vector."""
        address = f"{self.prometheus_url}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
        with urllib.request.urlopen(address, timeout=10) as answer:
            body = json.load(answer)
        if body.get("status") != "success":
            raise RuntimeError(f"Prometheus refused {promql!r}: {body}")
        return body["data"]["result"]

    def kill_instance(self, name: str) -> None:
        """SIGKILL an instance's master and workers, as a lost machine."""
        self.processes.kill(name)

    def log_size(self, name: str) -> int:
        return self.processes.log(name).stat().st_size

    def log_since(self, name: str, offset: int) -> str:
        with open(self.processes.log(name), "rb") as log:
            log.seek(offset)
            return log.read().decode("utf-8", "replace")

