"""The configuration files of nginx, Prometheus and the sentinels, for the local cluster and for docker-compose.

One function per file, given the addresses: the local cluster renders them
with loopback ports, and ``deploy/compose/`` holds the same functions' output
for the compose services (``python -m cluster compose-files`` writes it, and a
test checks it is current), so the two topologies cannot drift apart.
"""

from __future__ import annotations

SERVICE = "opitios"  # the name the sentinels monitor the primary under
QUORUM = 2  # of three sentinels
DOWN_AFTER_MS = 2000  # a primary silent this long is down (Redis' default is 30 s; this is a demo topology)
FAILOVER_TIMEOUT_MS = 10000
MAX_FAILS = 1  # nginx: one failed attempt takes an instance out ...
FAIL_TIMEOUT = "10s"  # ... for this long, then it is tried again
NEXT_UPSTREAM_TRIES = 3


def sentinel_conf(port: int, primary: tuple[str, int], *, bind: str | None = "127.0.0.1", hostnames: bool = False) -> str:
    """A sentinel watching ``primary``; Redis rewrites this file as it learns the topology."""
    lines = [
        f"port {port}",
        *([f"bind {bind}"] if bind else []),
        "daemonize no",
        *(["sentinel resolve-hostnames yes", "sentinel announce-hostnames yes"] if hostnames else []),
        f"sentinel monitor {SERVICE} {primary[0]} {primary[1]} {QUORUM}",
        f"sentinel down-after-milliseconds {SERVICE} {DOWN_AFTER_MS}",
        f"sentinel failover-timeout {SERVICE} {FAILOVER_TIMEOUT_MS}",
        f"sentinel parallel-syncs {SERVICE} 1",
    ]
    return "\n".join(lines) + "\n"


def nginx_site(listen: str, instances: list[str]) -> str:
    """The http-level part: the upstream of instances and the server in front of them."""
    servers = "\n".join(
        f"    server {address} max_fails={MAX_FAILS} fail_timeout={FAIL_TIMEOUT};" for address in instances
    )
    return f"""\
# opitios behind nginx: round robin over the instances, passive health checks, and a retry on the
# next instance for a request that met a dead or unreachable one. nginx retries only idempotent
# requests once one was sent: a POST (an order) that may have reached an instance is never re-sent.
upstream opitios {{
{servers}
}}

server {{
    listen {listen};

    location / {{
        proxy_pass http://opitios;
        proxy_http_version 1.1;
        proxy_set_header Host $host;
        # opitios believes one proxy (OPITIOS_TRUSTED_PROXIES=1): anonymous limits count the client's address.
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        # A refused or reset connection, or no answer in time; never a 5xx that opitios chose to send.
        proxy_next_upstream error timeout;
        proxy_next_upstream_tries {NEXT_UPSTREAM_TRIES};
        proxy_connect_timeout 2s;
        # Beyond the upstream timeout plus a single-flight wait, so a slow answer is not taken for a dead instance.
        proxy_read_timeout 30s;
        # Bodies and answers are small: keep them in memory, never in temporary files.
        client_body_buffer_size 64k;
        client_max_body_size 64k;
        proxy_max_temp_file_size 0;
    }}
}}
"""


def nginx_main(run_dir: str, site: str) -> str:
    """A whole nginx.conf for the local cluster: in the foreground, every file in ``run_dir``."""
    indented = "".join(f"    {line}\n" if line else "\n" for line in site.splitlines())
    temp = "\n".join(
        f"    {kind}_temp_path {run_dir}/nginx-temp/{kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""\
daemon off;
worker_processes 1;
pid {run_dir}/nginx.pid;
error_log {run_dir}/nginx-error.log warn;

events {{
    worker_connections 4096;
}}

http {{
    access_log {run_dir}/nginx-access.log;
{temp}

{indented}}}
"""


def prometheus_yml(targets: list[str], rules: str, scrape_interval: str) -> str:
    """Prometheus scraping every instance's /metrics, with the shipped alert rules loaded."""
    listed = ", ".join(f'"{target}"' for target in targets)
    return f"""\
global:
  scrape_interval: {scrape_interval}
  evaluation_interval: {scrape_interval}

rule_files:
  - {rules}

scrape_configs:
  - job_name: opitios
    metrics_path: /metrics
    static_configs:
      - targets: [{listed}]
"""
