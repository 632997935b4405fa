"""The cluster's processes: each started in a session of its own with its own log, recorded by pid, stopped by pid.

The records (name, pid, and the kernel's start time of that pid) are written to
``processes.json`` in the run folder as each process starts, so ``python -m
cluster stop`` in another shell stops exactly those processes, and never a
later process that happens to reuse a pid.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

STOP_TIMEOUT = 30.0  # gunicorn's graceful_timeout is 20 s
READY_TIMEOUT = 120.0  # a loaded 2-core machine takes a while to import six workers


def _start_ticks(pid: int) -> int | None:
    """When ``pid`` started (clock ticks since boot), or None when no live process has it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()  # the command name, in parentheses, may hold spaces
    if fields[0] == "Z":
        return None  # a zombie has finished; only its exit status is left
    return int(fields[19])


def _signal(pid: int, number: int, group: bool = False) -> None:
    """Send a signal; a process that has just gone needs none."""
    try:
        (os.killpg if group else os.kill)(pid, number)
    except ProcessLookupError:
        pass


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


class Processes:
    """Processes started for one run folder, in start order."""

    def __init__(self, run_dir: Path):
        self.run_dir = run_dir
        self.state_file = run_dir / "processes.json"
        self._records: dict[str, dict] = json.loads(self.state_file.read_text()) if self.state_file.exists() else {}
        self._children: dict[str, subprocess.Popen] = {}

    def log(self, name: str) -> Path:
        return self.run_dir / f"{name}.log"

    def start(self, name: str, command: list[str], *, env: dict | None = None, cwd: Path | None = None) -> int:
        """Start ``command`` as ``name``: stdout and stderr to ``<name>.log``, in a process group of its own."""
        with open(self.log(name), "ab") as log:
            child = subprocess.Popen(
                command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group: a kill reaches its workers, a Ctrl-C of ours does not
            )
        self._children[name] = child
        self._records[name] = {"pid": child.pid, "ticks": _start_ticks(child.pid)}
        self._save()
        return child.pid

    def _save(self) -> None:
        partial = self.state_file.with_suffix(".tmp")
        partial.write_text(json.dumps(self._records, indent=1))
        partial.replace(self.state_file)

    def names(self) -> list[str]:
        return list(self._records)

    def pid(self, name: str) -> int | None:
        """The pid of ``name`` while that very process runs."""
        record = self._records.get(name)
        if record is None:
            return None
        child = self._children.get(name)
        if child is not None:
            return child.pid if child.poll() is None else None
        ticks = _start_ticks(record["pid"])
        return record["pid"] if ticks is not None and ticks == record["ticks"] else None

    def alive(self, name: str) -> bool:
        return self.pid(name) is not None

    def wait_ready(self, names: list[str], check, what: str, timeout: float = READY_TIMEOUT) -> None:
        """Until ``check()`` holds; RuntimeError with the end of a log if one of ``names`` exits first or
        ``timeout`` s pass. An error raised by ``check`` means "not yet" (a server still starting refuses)."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            try:
                if check():
                    return
            except Exception as error:  # noqa: BLE001 -- kept for the message if it never passes
                last = error
            gone = [name for name in names if not self.alive(name)]
            if gone or time.monotonic() > deadline:
                name = gone[0] if gone else names[-1]
                tail = "\n".join(self.log(name).read_text(errors="replace").splitlines()[-15:])
                reason = "exited" if gone else f"not within {timeout:.0f} s (last: {last!r})"
                raise RuntimeError(f"{what}: {name} {reason}; the end of {self.log(name)}:\n{tail}")
            time.sleep(0.1)

    def kill(self, name: str) -> None:
        """SIGKILL to ``name`` and everything in its process group: the process is lost, as in a crash."""
        pid = self.pid(name)
        if pid is not None:
            _signal(pid, signal.SIGKILL, group=True)
            self._wait_gone(name, pid, STOP_TIMEOUT)

    def stop(self, name: str, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM, then SIGKILL to its group after ``timeout`` s; also the group's leftovers."""
        self._stop_together([name], timeout)

    def _stop_together(self, names: list[str], timeout: float) -> None:
        # Signalled in the order given, then waited for together: each shuts down while the others do.
        running = {name: pid for name in names if (pid := self.pid(name)) is not None}
        for pid in running.values():
            _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for name, pid in running.items():
            if not self._wait_gone(name, pid, max(0.0, deadline - time.monotonic())):
                _signal(pid, signal.SIGKILL, group=True)
                self._wait_gone(name, pid, timeout)
            if _group_alive(pid):
                _signal(pid, signal.SIGKILL, group=True)  # workers that outlived their master

    def _wait_gone(self, name: str, pid: int, timeout: float) -> bool:
        child = self._children.get(name)
        if child is not None:
            try:
                child.wait(timeout=timeout)
                return True
            except subprocess.TimeoutExpired:
                return False
        deadline = time.monotonic() + timeout
        while _start_ticks(pid) is not None:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def stop_all(self) -> None:
        """Stop every recorded process (signalled the last started first) and forget them."""
        self._stop_together(list(reversed(self.names())), STOP_TIMEOUT)
        self._records.clear()
        self._children.clear()
        self.state_file.unlink(missing_ok=True)
