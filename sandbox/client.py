"""Launcher and control client for the sandbox process, used by tests, benchmarks and the demo."""
import queue
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

_ROOT = Path(__file__).resolve().parent.parent  # the folder that contains sandbox/
_READY = "SANDBOX LISTENING "
_START_TIMEOUT = 15.0


class SandboxServer:
    """A ``python -m sandbox`` child process on 127.0.0.1 and a client for its control API."""

    def __init__(self, host="127.0.0.1", port=0, key="sandbox-key", secret="sandbox-secret", now=None, stream_port=0):
        self.host = host
        self.port = port
        self.stream_port = stream_port
        self.stream_url = ""  # ws://host:port of the market-data stream; its feeds are under /v2/{feed}
        self.key = key
        self.secret = secret
        self.now = now
        self.url = ""
        self._process = None
        self._stderr = None
        self._session = requests.Session()

    @classmethod
    def running_at(cls, url: str, key: str = "sandbox-key", secret: str = "sandbox-secret") -> "SandboxServer":
        """A control client for a sandbox that something else started (the local cluster does); stop() leaves it running."""
        server = cls(key=key, secret=secret)
        server.url = url
        server.port = int(url.rsplit(":", 1)[1])
        return server

    @property
    def pid(self) -> int | None:
        """The sandbox process's id while this client runs it (None for one started elsewhere, or not yet)."""
        return self._process.pid if self._process is not None else None

    def start(self) -> "SandboxServer":
        command = [sys.executable, "-m", "sandbox", "--host", self.host, "--port", str(self.port),
                   "--stream-port", str(self.stream_port), "--key", self.key, "--secret", self.secret]
        if self.now is not None:
            command += ["--now", str(self.now)]
        # stderr goes to a file so a chatty child can never block on a full pipe.
        self._stderr = tempfile.TemporaryFile(mode="w+")
        self._process = subprocess.Popen(command, cwd=_ROOT, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.PIPE, stderr=self._stderr, text=True)
        lines = queue.Queue()
        threading.Thread(target=self._drain, args=(self._process.stdout, lines), daemon=True).start()
        try:
            first = lines.get(timeout=_START_TIMEOUT)
        except queue.Empty:
            first = None
        if not first or not first.startswith(_READY):
            self._fail(f"sandbox did not print its LISTENING line (got {first!r})")
        self.url = first[len(_READY):].strip()
        self.port = int(self.url.rsplit(":", 1)[1])
        self._wait_healthy(time.monotonic() + _START_TIMEOUT)
        return self

    @staticmethod
    def _drain(stream, lines: queue.Queue) -> None:
        # Keep reading after the first line so the banner (or anything later) never fills the pipe.
        for line in stream:
            lines.put(line)
        lines.put(None)

    def _wait_healthy(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            try:
                health = self._session.get(self.url + "/_sandbox/health", timeout=1).json()
                if health.get("ok"):
                    self.stream_url = health["stream_url"]
                    return
            except (requests.RequestException, ValueError):
                pass
            if self._process.poll() is not None:
                break
            time.sleep(0.05)
        self._fail("sandbox did not become healthy")

    def _fail(self, reason: str) -> None:
        self._process.terminate()
        self._process.wait()  # so everything it wrote to stderr is in the file
        self._stderr.seek(0)
        detail = self._stderr.read()
        self.stop()
        raise RuntimeError(f"{reason}; stderr:\n{detail}")

    def stop(self) -> None:
        process, self._process = self._process, None
        self._session.close()
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()
        self._stderr.close()

    def __enter__(self) -> "SandboxServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _control(self, method: str, name: str, body=None):
        response = self._session.request(method, f"{self.url}/_sandbox/{name}", json=body, timeout=10)
        if response.status_code != 200:
            raise RuntimeError(f"sandbox control {method} {name}: {response.status_code} {response.text}")
        return response.json()

    def switches(self, **changes) -> dict:
        """The current switches, after merging ``changes`` when given."""
        return self._control("POST", "switches", changes) if changes else self._control("GET", "switches")

    def reset(self) -> None:
        self._control("POST", "reset")

    def clear_calls(self) -> None:
        """Counters, call log and rate window to zero, switches untouched (say, after an app's start-up calls)."""
        self._control("DELETE", "calls")

    def calls(self) -> dict:
        return self._control("GET", "calls")

    def count(self, path: str | None = None) -> int:
        """API requests received in total, or for one exact path."""
        calls = self.calls()
        return calls["total"] if path is None else calls["by_path"].get(path, 0)

    def stream(self, **changes) -> dict:
        """The stream's switches and counters, after merging switch ``changes`` when given."""
        return self._control("POST", "stream", changes) if changes else self._control("GET", "stream")

    def gateway_env(self) -> dict[str, str]:
        """The environment that points an Alpaca client (opitios under gunicorn, say) at this sandbox."""
        return {"ALPACA_API_KEY": self.key, "ALPACA_SECRET_KEY": self.secret,
                "ALPACA_DATA_URL": self.url, "ALPACA_TRADING_URL": self.url, "ALPACA_STREAM_URL": self.stream_url}

    def catalog(self) -> dict:
        return self._control("GET", "catalog")

    def get(self, path: str, **params) -> tuple[int, dict, object]:
        """An authenticated API GET straight to the sandbox: (status, headers, JSON or None).
        List values are comma-joined like alpaca-py does; headers are case-insensitive."""
        query = {name: ",".join(value) if isinstance(value, (list, tuple)) else value
                 for name, value in params.items()}
        auth = {"APCA-API-KEY-ID": self.key, "APCA-API-SECRET-KEY": self.secret}
        response = self._session.get(self.url + path, params=query, headers=auth, timeout=30)
        try:
            body = response.json()
        except ValueError:
            body = None
        return response.status_code, response.headers, body
