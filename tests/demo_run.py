"""`make demo` as a test runs it: scripts/demo.sh on free ports, its database and key in a folder of the test's."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from harness.namespace import TEST_REDIS_URL, forget, new_prefix
from harness.servers import ROOT, free_port, http_status
from tests.waiting import eventually

DEMO_SCRIPT = ROOT / "scripts" / "demo.sh"
START_TIMEOUT = 120.0  # a sandbox, migrations, a key (scrypt) and two gunicorn workers, on a loaded machine


def demo_env(folder: Path, **extra: str) -> dict[str, str]:
    """The environment of a demo whose files all go to ``folder`` (never the checkout) and whose Redis keys
    are under a namespace of its own (deleted when it stops)."""
    env = {name: value for name, value in os.environ.items()
           if name not in ("DATABASE_URL", "REDIS_URL", "ALPACA_API_KEY", "ALPACA_SECRET_KEY")}
    env.update({
        "DEMO_INSTANCE": str(folder / "instance"),
        "SANDBOX_PORT": str(free_port()),
        "SANDBOX_STREAM_PORT": str(free_port()),
        "REDIS_URL": TEST_REDIS_URL,
        "OPITIOS_REDIS_PREFIX": new_prefix("demo"),
        "OPITIOS_BIND": f"127.0.0.1:{free_port()}",
        "OPITIOS_WORKERS": "2",
        "OPITIOS_CONTROL_SOCKET": "off",
        "PROMETHEUS_MULTIPROC_DIR": str(folder / "metrics"),
        **extra,
    })
    return env


class Demo:
    """scripts/demo.sh as a child process; stop() sends it SIGTERM, as Ctrl-C or a service manager would."""

    def __init__(self, folder: Path, **extra: str):
        self.folder = folder
        self.env = demo_env(folder, **extra)
        self.port = int(self.env["OPITIOS_BIND"].rsplit(":", 1)[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.instance = Path(self.env["DEMO_INSTANCE"])
        self.log_path = folder / "demo.log"
        self._process: subprocess.Popen | None = None

    def start(self) -> "Demo":
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as log:  # a file, never a pipe nobody reads
            self._process = subprocess.Popen(
                ["bash", str(DEMO_SCRIPT)], cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        try:
            eventually(self._answering_or_gone, timeout=START_TIMEOUT, interval=0.2)
            if self._process.poll() is not None:
                raise RuntimeError(f"make demo exited with {self._process.returncode}:\n{self.output()}")
        except BaseException:
            self.stop()
            raise
        return self

    def _answering_or_gone(self) -> bool:
        return self._process.poll() is not None or http_status(self.port, "/api/v1/health") == 200

    def stop(self) -> None:
        process, self._process = self._process, None
        try:
            self._stop(process)
        finally:
            forget(self.env["REDIS_URL"], self.env["OPITIOS_REDIS_PREFIX"])

    @staticmethod
    def _stop(process: subprocess.Popen | None) -> None:
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # the session it leads: the script, the sandbox, gunicorn
            process.wait()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def __enter__(self) -> "Demo":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
