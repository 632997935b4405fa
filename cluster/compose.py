"""deploy/compose/: the configuration files that deploy/docker-compose.yml mounts, rendered like the local cluster's."""

from __future__ import annotations

from pathlib import Path

from harness.servers import ROOT
from cluster.configs import nginx_site, prometheus_yml, sentinel_conf
from cluster.topology import INSTANCES

COMPOSE = ROOT / "deploy" / "compose"
HEADER = "# Written by `python -m cluster compose-files` (cluster/configs.py); edit that, not this file.\n"
# In the containers every service has the port its image expects; nginx and Prometheus are published.
INSTANCE_PORT = 8081
NGINX_PORT = 8080


def compose_files() -> dict[Path, str]:
    instances = [f"{name}:{INSTANCE_PORT}" for name in INSTANCES]
    return {
        COMPOSE / "nginx.conf": HEADER + nginx_site(str(NGINX_PORT), instances),
        COMPOSE / "prometheus.yml": HEADER + prometheus_yml(instances, "/etc/prometheus/rules/opitios-alerts.yml", "5s"),
        COMPOSE / "sentinel.conf": HEADER + sentinel_conf(26379, ("redis-primary", 6379), bind=None, hostnames=True),
    }


def write_compose_files() -> list[Path]:
    COMPOSE.mkdir(parents=True, exist_ok=True)
    for path, text in compose_files().items():
        path.write_text(text)
    return list(compose_files())
