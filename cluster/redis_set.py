"""A Redis primary, one replica and three sentinels on 127.0.0.1 (``redis-server`` and ``redis-server --sentinel``)."""

from __future__ import annotations

from pathlib import Path

import redis

from cluster.configs import SERVICE, sentinel_conf
from cluster.processes import Processes
from cluster.topology import SENTINELS

HOST = "127.0.0.1"


def ask(port: int, question):
    """``question(client)`` on a short-lived connection to 127.0.0.1:``port``."""
    with redis.Redis(HOST, port, socket_timeout=2, socket_connect_timeout=2) as client:
        return question(client)


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
        self.processes.wait_ready(["redis-primary", "redis-replica"],
                                  lambda: self._info("redis-replica", "replication").get("master_link_status") == "up",
                                  "the Redis replica syncing with its primary")
        for name, port in self.sentinel_ports.items():
            conf = self.run_dir / f"{name}.conf"
            conf.write_text(sentinel_conf(port, (HOST, primary)))
            self.processes.start(name, ["redis-server", str(conf), "--sentinel"], cwd=self.run_dir)
        self.processes.wait_ready(list(self.sentinel_ports), self._sentinels_agree,
                                  "three sentinels that know the primary, the replica and each other")

    def _server(self, name: str, port: int, *extra: str) -> None:
        self.processes.start(name, [
            "redis-server", "--port", str(port), "--bind", HOST, "--save", "", "--appendonly", "no",
            "--dir", str(self.run_dir), "--dbfilename", f"{name}.rdb",
            # The replica's first sync starts at once instead of after diskless sync's 5 s delay.
            "--repl-diskless-sync-delay", "0", *extra,
        ], cwd=self.run_dir)
        self.processes.wait_ready([name], lambda: ask(port, lambda client: client.ping()), f"{name} answering PING")

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
