"""A redis-server of our own on a free loopback port, killed by pid for an outage and started again empty.

Never the machine's Redis: only this process is stopped. It keeps nothing on disk (no RDB, no AOF) and
works in a temporary folder, so it leaves no file behind. Tests and the fault run (`make faults`) use it.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time

import redis

from harness.servers import free_port, port_open

_TIMEOUT = 10.0


class RedisServer:
    """``redis-server`` on 127.0.0.1:<port>; ``kill`` takes it away, ``start`` brings it back empty on the same port."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._folder = tempfile.mkdtemp(prefix="opitios-redis-")
        self._process: subprocess.Popen | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self) -> "RedisServer":
        """Start it (again, on the same port) and return once it answers as this very process."""
        self._process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self._folder, "--loglevel", "warning"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        _wait(self._answers, f"redis-server did not start on port {self.port}")
        return self

    def _answers(self) -> bool:
        if self._process.poll() is not None:
            raise RuntimeError(f"redis-server on port {self.port} exited with {self._process.returncode}")
        try:
            with redis.Redis(port=self.port, socket_timeout=1) as client:
                # Ours, not another server that happened to hold the port while ours failed to bind.
                return client.info("server")["process_id"] == self._process.pid
        except redis.RedisError:
            return False

    def kill(self) -> None:
        """SIGKILL by pid (an outage, not a shutdown: everything it held is gone); returns once the port is closed."""
        process, self._process = self._process, None
        if process is not None:
            process.kill()
            process.wait()
        _wait(lambda: not port_open(self.port), f"port {self.port} stayed open after redis-server was killed")

    def commands(self) -> dict[str, int]:
        """Calls so far by command name (``INFO commandstats``), e.g. ``{"evalsha": 12, "get": 40}``."""
        with redis.Redis(port=self.port, socket_timeout=2) as client:
            stats = client.info("commandstats")
        return {name.removeprefix("cmdstat_"): values["calls"] for name, values in stats.items()}

    def stop(self) -> None:
        self.kill()
        shutil.rmtree(self._folder, ignore_errors=True)

    def __enter__(self) -> "RedisServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _wait(condition, failure: str) -> None:
    deadline = time.monotonic() + _TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(failure)
        time.sleep(0.02)
