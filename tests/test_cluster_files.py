"""The cluster's files: docker-compose.yml matches the local cluster service for service, and every configuration
the local cluster renders passes its own program's check (nginx -t, promtool check config).

Docker has no engine on these machines, so the compose file is checked as a document, never run.
"""

import shutil
import subprocess

import yaml

from cluster.compose import COMPOSE, NGINX_PORT, compose_files
from cluster.configs import SERVICE, nginx_main, nginx_site, prometheus_yml
from cluster.local import RULES
from cluster.topology import INSTANCES, SENTINELS, SERVICES, WORKERS
from opitios.redis_pool import parse_sentinel

COMPOSE_FILE = COMPOSE.parent / "docker-compose.yml"


def services() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())["services"]


def run(*command: str) -> subprocess.CompletedProcess:
    found = shutil.which(command[0])
    assert found, f"{command[0]} is missing: scripts/cluster-packages.sh installs it"
    return subprocess.run([found, *command[1:]], capture_output=True, text=True, timeout=60)


def test_compose_names_the_same_services_as_the_local_cluster():
    assert sorted(services()) == sorted(SERVICES)


def test_compose_wires_the_instances_like_the_local_cluster():
    found = services()
    for name in INSTANCES:
        environment = found[name]["environment"]
        address = parse_sentinel(environment["REDIS_URL"])
        assert [host for host, _ in address.sentinels] == list(SENTINELS) and address.service == SERVICE
        assert environment["ALPACA_DATA_URL"] == environment["ALPACA_TRADING_URL"] == "http://sandbox:9100"
        assert "@postgres:5432/" in environment["DATABASE_URL"]
        assert environment["OPITIOS_WORKERS"] == str(WORKERS) and environment["OPITIOS_TRUSTED_PROXIES"] == "1"
    assert found["redis-replica"]["command"][-3:] == ["--replicaof", "redis-primary", "6379"]
    mounted = {name: " ".join(found[name].get("volumes", [])) for name in ("nginx", "prometheus", *SENTINELS)}
    assert "./compose/nginx.conf:" in mounted["nginx"] and f"{NGINX_PORT}:{NGINX_PORT}" in found["nginx"]["ports"]
    assert "./compose/prometheus.yml:" in mounted["prometheus"] and "./prometheus/opitios-alerts.yml:" in mounted["prometheus"]
    assert all("./compose/sentinel.conf:" in mounted[name] for name in SENTINELS)


def test_the_compose_configuration_files_are_what_the_local_cluster_renders():
    stale = [path.name for path, text in compose_files().items() if not path.exists() or path.read_text() != text]
    assert stale == [], f"{stale}: run `python -m cluster compose-files`"


def test_nginx_accepts_the_local_clusters_configuration(tmp_path):
    (tmp_path / "nginx-temp").mkdir()
    site = nginx_site("127.0.0.1:18080", ["127.0.0.1:18091", "127.0.0.1:18092", "127.0.0.1:18093"])
    conf = tmp_path / "nginx.conf"
    conf.write_text(nginx_main(str(tmp_path), site))
    checked = run("nginx", "-t", "-p", str(tmp_path), "-e", str(tmp_path / "nginx-error.log"), "-c", str(conf))
    assert checked.returncode == 0, checked.stderr
    assert "syntax is ok" in checked.stderr


def test_promtool_accepts_the_local_clusters_prometheus_configuration(tmp_path):
    conf = tmp_path / "prometheus.yml"
    conf.write_text(prometheus_yml(["127.0.0.1:18091", "127.0.0.1:18092", "127.0.0.1:18093"], str(RULES), "1s"))
    checked = run("promtool", "check", "config", str(conf))
    assert checked.returncode == 0, checked.stdout + checked.stderr
