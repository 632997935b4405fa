"""A redis-server of a test's own on a free loopback port: killed by pid for an outage, started again empty.

Never the machine's Redis: only this process is stopped. It keeps nothing on disk
(no RDB, no AOF) and works in a temporary folder, so it leaves no file behind.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile

import redis

from harness.servers import free_port, port_open
from tests.waiting import eventually


class RedisServer:
    """``redis-server`` on 127.0.0.1:<port>; ``kill`` takes it away, ``start`` brings it back empty on the same port."""

    def __init__(self):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._folder = tempfile.mkdtemp(prefix="opitios-redis-")
        self._process: subprocess.Popen | None = None

    def start(self) -> "RedisServer":
        self._process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self._folder, "--loglevel", "warning"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        eventually(lambda: self._answers(), timeout=10)
        return self

    def _answers(self) -> bool:
        if self._process.poll() is not None:
            raise RuntimeError(f"redis-server on port {self.port} exited with {self._process.returncode}")
        try:
            with redis.Redis(port=self.port, socket_timeout=1) as client:
                # Ours, not another test's server that happened to hold the port while ours failed to bind.
                return client.info("server")["process_id"] == self._process.pid
        except redis.RedisError:
            return False

    def kill(self) -> None:
        """Stop this server (SIGKILL, by its pid) and wait until its port is closed."""
        process, self._process = self._process, None
        if process is not None:
            process.kill()
            process.wait()
        eventually(lambda: not port_open(self.port), timeout=10)

    def commands(self) -> dict[str, int]:
        """Calls so far by command name (``INFO commandstats``), e.g. ``{"evalsha": 12, "get": 40}``."""
        with redis.Redis(port=self.port, socket_timeout=2) as client:
            stats = client.info("commandstats")
        return {name.removeprefix("cmdstat_"): values["calls"] for name, values in stats.items()}

    def __enter__(self) -> "RedisServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.kill()
        shutil.rmtree(self._folder, ignore_errors=True)
