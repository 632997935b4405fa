"""GunicornServer: a WSGI app of this repo under gunicorn on 127.0.0.1, and StreamerProcess: `opitios stream`; child processes of tests and the benchmark."""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path
from typing import NamedTuple

from harness.database import migrated_sqlite

ROOT = Path(__file__).resolve().parent.parent  # the repo root: wsgi.py and gunicorn.conf.py live here
_START_TIMEOUT = 30.0
_STOP_TIMEOUT = 10.0
_BIND_ATTEMPTS = 3  # a free port can be taken by someone else between our probe and gunicorn's bind


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def port_open(port: int, timeout: float = 0.2) -> bool:
    """True when something accepts TCP connections on 127.0.0.1:port."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def http_status(port: int, path: str, timeout: float = 1.0) -> int | None:
    """The status of GET path on 127.0.0.1:port, or None when there is no answer."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        connection.close()


class AccessEntry(NamedTuple):
    status: int
    cache: str  # X-Cache-Status as sent (HIT, MISS, STALE), or "-"
    pid: int


def access_entries(text: str) -> list[AccessEntry]:
    """One entry per line of gunicorn's JSON access log (gunicorn.conf.py's JsonAccessLogger) in ``text``."""
    entries = []
    for line in text.splitlines():
        if '"gunicorn.access"' not in line:
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        entries.append(AccessEntry(int(record["status"]), record.get("cache") or "-", int(record["pid"])))
    return entries


def _command_line_settings() -> list[str]:
    """Settings added on the command line, on top of the config file; neither changes how requests are served."""
    major, minor = (int(part) for part in version("gunicorn").split(".")[:2])
    if (major, minor) >= (25, 1):
        # gunicorn >= 25.1 puts a control socket at one fixed per-user path, so concurrent instances
        # (opitios and the bare baseline, or a `make run` beside the tests) would unlink each other's.
        return ["--no-control-socket"]
    return []


class GunicornServer:
    """gunicorn serving a WSGI app from this repo on 127.0.0.1:<free port>, as a child process.

    start() returns once every worker has answered ``ready_path`` with 200 (None: any HTTP answer
    on "/"), within 30 s; otherwise it raises RuntimeError with the tail of gunicorn's output.
    """

    def __init__(
        self,
        app: str = "wsgi:app",
        *,
        workers: int = 2,
        env: dict[str, str] | None = None,
        config: str = "gunicorn.conf.py",
        ready_path: str | None = "/api/v1/health",
        control_socket: bool = False,
    ) -> None:
        self.app = app
        self.control_socket = control_socket  # True: keep the control socket the config file gives gunicorn
        self.workers = workers
        self.env = dict(env or {})
        self.config = config
        self.ready_path = ready_path
        self.port = 0
        self.url = ""
        self.log_path = ""  # gunicorn's stdout and stderr (access log included), readable while it runs
        self._process: subprocess.Popen | None = None
        self._log = None
        self._own_database: str | None = None  # a folder, when the caller named no database

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> "GunicornServer":
        for attempt in range(_BIND_ATTEMPTS):
            self._spawn(free_port())
            try:
                self._wait_ready(time.monotonic() + _START_TIMEOUT)
                return self
            except RuntimeError as error:
                self.stop()  # first, so everything gunicorn had to say is in the file
                tail = self.log_tail()
                self.remove_log()
                retry = "Connection in use" in tail and attempt + 1 < _BIND_ATTEMPTS
                if not retry:
                    raise RuntimeError(f"{error}; gunicorn output (tail):\n{tail}") from None
            except BaseException:  # Ctrl-C while waiting: never leave a gunicorn behind
                self.stop()
                self.remove_log()
                raise
        raise AssertionError("unreachable")

    def _spawn(self, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        env = {**os.environ, **self.env,
               "OPITIOS_BIND": f"127.0.0.1:{port}", "OPITIOS_WORKERS": str(self.workers)}
        if "DATABASE_URL" not in self.env:
            # Never the caller's inherited one (a test session's SQLite file, say): workers killed
            # while they share one SQLite file with the caller's own connections have corrupted it.
            env["DATABASE_URL"] = self._database()
        # A file, never a pipe: the access log alone would fill a pipe nobody reads and block gunicorn.
        self._log = tempfile.NamedTemporaryFile(mode="w+b", prefix="gunicorn-", suffix=".log", delete=False)
        self.log_path = self._log.name
        self._process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", self.config,
             *([] if self.control_socket else _command_line_settings()), self.app],
            cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so a last-resort SIGKILL reaches the workers too
        )

    def _wait_ready(self, deadline: float) -> None:
        first_answer = None
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"gunicorn {self.app} exited with {self._process.returncode} before it was ready")
            if self._ready():
                first_answer = first_answer or time.monotonic()
                # Wait until every worker has answered a probe (each probe is a new connection, so any
                # idle worker may take it): a load generator's keep-alive connections opened while one
                # worker is still importing the app would all stay on the others for the whole run.
                entries = access_entries(self.log_since(0))
                if len({entry.pid for entry in entries}) >= self.workers:
                    return
                if not entries and time.monotonic() - first_answer > 2:
                    return  # the config logs no access lines: answering is all we can know
            time.sleep(0.02)
        raise RuntimeError(f"gunicorn {self.app} was not ready on {self.url} within {_START_TIMEOUT:.0f} s")

    def _ready(self) -> bool:
        if self.ready_path is None:
            # Any HTTP answer: the master accepts TCP before a worker has loaded the app (or failed to).
            return http_status(self.port, "/") is not None
        return http_status(self.port, self.ready_path) == 200

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=_STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)  # the group we created in _spawn: master and workers
                    process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def _database(self) -> str:
        """A migrated SQLite file of this server's own, removed by remove_log()."""
        if self._own_database is None:
            self._own_database = tempfile.mkdtemp(prefix="gunicorn-db-")
        return migrated_sqlite(Path(self._own_database))

    def remove_log(self) -> None:
        """Delete the output file (kept after stop() so a failure can still be read), and its own database."""
        if self._own_database is not None:
            shutil.rmtree(self._own_database, ignore_errors=True)
            self._own_database = None
        if self.log_path:
            Path(self.log_path).unlink(missing_ok=True)
            self.log_path = ""

    def __enter__(self) -> "GunicornServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
        self.remove_log()

    # --- output -------------------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        """The gunicorn master's process id while it runs."""
        return self._process.pid if self._process is not None else None

    def worker_pids(self) -> set[int]:
        """Every worker the master has booted so far (recycled ones included), from its log."""
        return {int(pid) for pid in re.findall(r"Booting worker with pid: (\d+)", self.log_since(0))}

    def log_size(self) -> int:
        return Path(self.log_path).stat().st_size if self.log_path else 0

    def log_since(self, offset: int) -> str:
        """Everything gunicorn wrote after byte ``offset``."""
        if not self.log_path:
            return ""
        with open(self.log_path, "rb") as log:
            log.seek(offset)
            return log.read().decode("utf-8", "replace")

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_since(0).splitlines()[-lines:])


class StreamerProcess:
    """``opitios stream`` as a child process (tests and benchmark), its output in a file, stopped by its pid.

    The environment must point it at the upstream, Redis (REDIS_URL, OPITIOS_REDIS_PREFIX) and the database.
    """

    def __init__(self, env: dict[str, str]) -> None:
        self.env = dict(env)
        self.log_path = ""
        self._process: subprocess.Popen | None = None
        self._log = None

    def start(self) -> "StreamerProcess":
        self._log = tempfile.NamedTemporaryFile(mode="w+b", prefix="opitios-stream-", suffix=".log", delete=False)
        self.log_path = self._log.name
        self._process = subprocess.Popen(
            [sys.executable, "-m", "opitios", "stream"], cwd=ROOT, env={**os.environ, **self.env},
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
        )
        return self

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def kill(self) -> None:
        """SIGKILL: it dies without closing anything or giving its lease back."""
        if self.running():
            self._process.kill()
            self._process.wait()

    def stop(self) -> None:
        """SIGTERM (it closes its connection and gives the lease back), SIGKILL if it does not end in time."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def output(self) -> str:
        if not self.log_path:
            return ""
        with open(self.log_path, "rb") as log:
            return log.read().decode("utf-8", "replace")

    def __enter__(self) -> "StreamerProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
        Path(self.log_path).unlink(missing_ok=True)
        self.log_path = ""
