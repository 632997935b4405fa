"""gunicorn settings, read from the environment (CONTRACT §6).

gunicorn's gevent worker patches the standard library in each worker before
it imports ``wsgi``, so sockets opened by the app (requests, redis) cooperate.
"""

import multiprocessing
import os

bind = os.environ.get("OPITIOS_BIND", "0.0.0.0:8081")
workers = int(os.environ.get("OPITIOS_WORKERS") or multiprocessing.cpu_count())
worker_class = "gevent"
worker_connections = 1000
timeout = 30
graceful_timeout = 20
keepalive = 5
max_requests = 10000
max_requests_jitter = 1000
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("OPITIOS_LOG_LEVEL", "info").lower()


def worker_exit(server, worker):
    """Write the error rows still queued and close database connections as a worker leaves."""
    import sys

    module = sys.modules.get("wsgi")
    if module is not None:
        from opitios import stop_background

        stop_background(module.app)
