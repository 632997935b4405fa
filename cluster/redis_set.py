"""A Redis primary, one replica and three sentinels on 127.0.0.1 (``redis-server`` and ``redis-server --sentinel``)."""

from __future__ import annotations

import time
from pathlib import Path

import redis

from cluster.configs import SERVICE, sentinel_conf
from cluster.processes import Processes
from cluster.topology import SENTINELS

HOST = "127.0.0.1"
READY_TIMEOUT = 60.0


def ask(port: int, question):
    """``question(client)`` on a short-lived connection to 127.0.0.1:``port``."""
    with redis.Redis(HOST, port, socket_timeout=2, socket_connect_timeout=2) as client:
        return question(client)


def wait_for(check, timeout: float, what: str, interval: float = 0.1):
    """``check()``'s first truthy value within ``timeout`` s; RuntimeError naming ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = check()
        except (redis.RedisError, OSError):
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not within {timeout:.0f} s")
        time.sleep(interval)


class RedisSet:
    """The servers behind ``REDIS_URL=redis+sentinel://…``; who is primary is the sentinels' call."""

    def __init__(self, processes: Processes, run_dir: Path, primary: int, replica: int, sentinels: tuple[int, ...]):
        self.processes = processes
        self.run_dir = run_dir
        self.ports = {"redis-primary": primary, "redis-replica": replica}
        self.sentinel_ports = dict(zip(SENTINELS, sentinels, strict=True))

    def url(self, db: int = 0) -> str:
        hosts = ",".join(f"{HOST}:{port}" for port in self.sentinel_ports.values())
        return f"redis+sentinel://{hosts}/{SERVICE}/{db}"

    # --- starting ---------------------------------------------------------------------------------

    def start(self) -> None:
        primary = self.ports["redis-primary"]
        self._server("redis-primary", primary)
        self._server("redis-replica", self.ports["redis-replica"], "--replicaof", HOST, str(primary))
        wait_for(lambda: self._info("redis-replica", "replication").get("master_link_status") == "up",
                 READY_TIMEOUT, "the Redis replica syncing with its primary")
        for name, port in self.sentinel_ports.items():
            conf = self.run_dir / f"{name}.conf"
            conf.write_text(sentinel_conf(port, (HOST, primary)))
            self.processes.start(name, ["redis-server", str(conf), "--sentinel"], cwd=self.run_dir)
        wait_for(self._sentinels_agree, READY_TIMEOUT, "three sentinels that know the primary, the replica and each other")

    def _server(self, name: str, port: int, *extra: str) -> None:
        self.processes.start(name, [
            "redis-server", "--port", str(port), "--bind", HOST, "--save", "", "--appendonly", "no",
            "--dir", str(self.run_dir), "--dbfilename", f"{name}.rdb",
            # The replica's first sync starts at once instead of after diskless sync's 5 s delay.
            "--repl-diskless-sync-delay", "0", *extra,
        ], cwd=self.run_dir)
        wait_for(lambda: ask(port, lambda client: client.ping()), READY_TIMEOUT, f"{name} answering PING")

    def _sentinels_agree(self) -> bool:
        for port in self.sentinel_ports.values():
            state = ask(port, lambda client: client.sentinel_master(SERVICE))
            if state["num-slaves"] < 1 or state["num-other-sentinels"] < len(self.sentinel_ports) - 1:
                return False
        return True

    # --- looking and breaking -----------------------------------------------------------------------

    def _info(self, name: str, section: str) -> dict:
        return ask(self.ports[name], lambda client: client.info(section))

    def primary_port(self) -> int | None:
        """The primary's port as the first sentinel that answers has it."""
        for port in self.sentinel_ports.values():
            try:
                address = ask(port, lambda client: client.sentinel_get_master_addr_by_name(SERVICE))
            except redis.RedisError:
                continue
            if address:
                return int(address[1])
        return None

    def primary_name(self) -> str:
        port = self.primary_port()
        return next(name for name, known in self.ports.items() if known == port)

    def on_primary(self, question):
        """``question(client)`` asked of the current primary (tests look at what the instances wrote)."""
        return ask(self.primary_port(), question)

    def kill_primary(self) -> str:
        """SIGKILL the current primary, as a crash; its name."""
        name = self.primary_name()
        self.processes.kill(name)
        return name
