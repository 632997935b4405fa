"""RedisServer: a redis-server of our own on a free loopback port, to kill and restart empty (tests, fault run)."""

from __future__ import annotations

import signal
import subprocess
import tempfile
import time

from bench.servers import free_port, port_open

_START_TIMEOUT = 10.0


class RedisServer:
    """``redis-server`` on 127.0.0.1:<port> without persistence, so a restart starts empty."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self._process: subprocess.Popen | None = None
        self._folder = tempfile.TemporaryDirectory(prefix="opitios-redis-")  # its working folder, never the checkout

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self) -> "RedisServer":
        """Start it (again, on the same port) and return once it accepts connections."""
        self._process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=self._folder.name, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + _START_TIMEOUT
        while not port_open(self.port):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.02)
        return self

    def kill(self) -> None:
        """SIGKILL by pid: an outage, not a shutdown; everything it held is gone."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGKILL)
        if process is not None:
            process.wait()

    def stop(self) -> None:
        self.kill()
        self._folder.cleanup()

    def __enter__(self) -> "RedisServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
