"""The cluster's services, in start order, and the loopback port of each.

``SERVICES`` is the list deploy/docker-compose.yml must match service for
service (tests/test_cluster_files.py checks it). PostgreSQL is the machine's
here (a database of the cluster's own in it) and a container in compose.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from harness.servers import free_port

INSTANCES = ("opitios-1", "opitios-2", "opitios-3")
SENTINELS = ("sentinel-1", "sentinel-2", "sentinel-3")
# One `opitios stream` beside each instance, for availability: the lease in Redis keeps exactly one connected.
STREAMERS = ("streamer-1", "streamer-2", "streamer-3")
SERVICES = (
    "sandbox", "postgres", "redis-primary", "redis-replica", *SENTINELS, *INSTANCES, *STREAMERS, "nginx", "prometheus",
)
WORKERS = 2  # gunicorn workers per instance


@dataclass(frozen=True)
class Ports:
    nginx: int = 8080
    instances: tuple[int, ...] = (8091, 8092, 8093)
    sandbox: int = 9100
    sandbox_stream: int = 9101  # the sandbox's market-data stream (websocket)
    postgres: int = 5432  # the machine's
    redis_primary: int = 6380
    redis_replica: int = 6381
    sentinels: tuple[int, ...] = (26380, 26381, 26382)
    prometheus: int = 9090

    @classmethod
    def free(cls) -> "Ports":
        """A free loopback port for every service this cluster starts (tests: several runs side by side)."""
        taken: set[int] = set()

        def another() -> int:
            port = free_port()
            while port in taken:  # the kernel may hand out a port it just gave us
                port = free_port()
            taken.add(port)
            return port

        chosen = {}
        for field in fields(cls):
            if field.name == "postgres":
                continue
            default = getattr(cls(), field.name)
            chosen[field.name] = tuple(another() for _ in default) if isinstance(default, tuple) else another()
        return cls(**chosen)
