"""gunicorn settings, read from the environment (CONTRACT §6).

gunicorn's gevent worker patches the standard library (``monkey.patch_all``) in
each worker before it imports ``wsgi``; with ``preload_app`` off, nothing of
the app — requests, redis, psycopg, threading — is imported before that, so
every socket and lock the app makes is gevent's. This file itself imports
only the standard library and gunicorn.
Prometheus values of all workers meet in PROMETHEUS_MULTIPROC_DIR, set here
before any worker starts (and so before any worker imports prometheus_client).
gunicorn's own lines (its access log, and the request lines or headers it
refuses) are redacted like the app's: no API key or configured secret in them.
"""

import hashlib
import json
import logging
import multiprocessing
import os
import re
import shutil
import sys
import tempfile

from gunicorn.glogging import Logger

bind = os.environ.get("OPITIOS_BIND", "0.0.0.0:8081")
workers = int(os.environ.get("OPITIOS_WORKERS") or multiprocessing.cpu_count())
# gevent's worker, answering what gunicorn itself refuses (malformed or oversized request heads) in the envelope.
worker_class = "opitios.gunicorn_worker.EnvelopeWorker"
worker_connections = int(os.environ.get("OPITIOS_WORKER_CONNECTIONS") or 1000)  # the app sizes its Redis pool alike
preload_app = False  # each worker imports the app after gevent has patched it (see the docstring)
timeout = 30
graceful_timeout = 20
keepalive = 5
max_requests = 10000
max_requests_jitter = 1000
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("OPITIOS_LOG_LEVEL", "info").lower()

os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="opitios-metrics-"))


def redacted(text):
    """``text`` without keys or secrets, by the app's own rules (opitios/redaction.py).

    The module is there in every worker, which imported the app before serving; the master,
    which must not import it (see the docstring), never sees a request.
    """
    redaction = sys.modules.get("opitios.redaction")
    return redaction.redactor.text(text) if redaction is not None else text


class RedactedRecords(logging.Filter):
    """For gunicorn's error log, whose warnings quote the request line or header they refused."""

    def filter(self, record):
        record.msg, record.args = redacted(record.getMessage()), None
        if record.exc_info and not record.exc_text:
            record.exc_text = redacted(logging.Formatter().formatException(record.exc_info))
        return True


def _control_socket_path(address: str) -> str:
    """A control socket of this instance's own, named after its bind address, in the user's runtime folder.

    gunicorn (25.1 and later) puts every instance's socket at one per-user path and unlinks
    whatever is there when it starts, so a second instance on the host would take over the
    first one's ``gunicornc`` (and remove it when it stops).
    """
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    folder = runtime if runtime and os.path.isdir(runtime) else os.path.join(os.path.expanduser("~"), ".gunicorn")
    name = re.sub(r"[^A-Za-z0-9.]+", "-", address).strip("-")
    if len(name) > 40:  # a Unix socket path must stay under about 100 bytes
        name = hashlib.sha256(address.encode()).hexdigest()[:16]
    return os.path.join(folder, f"opitios-{name}.ctl")


# OPITIOS_CONTROL_SOCKET: a path, "off" for none, unset for one derived from the bind address.
# Older gunicorn knows neither setting and ignores both.
_control = (os.environ.get("OPITIOS_CONTROL_SOCKET") or "").strip()
control_socket_disable = _control.lower() in ("off", "none", "false", "0")
control_socket = _control if _control and not control_socket_disable else _control_socket_path(bind)


class JsonAccessLogger(Logger):
    """gunicorn's access log as one JSON object per line, like the application's own log."""

    def setup(self, cfg):
        super().setup(cfg)  # again on every reload: one filter is enough
        if not any(isinstance(each, RedactedRecords) for each in self.error_log.filters):
            self.error_log.addFilter(RedactedRecords())

    def access(self, resp, req, environ, request_time):
        if not (self.cfg.accesslog or self.cfg.logconfig or self.cfg.logconfig_dict or self.cfg.syslog):
            return
        atoms = self.atoms(resp, req, environ, request_time)
        line = {
            "logger": "gunicorn.access",
            "remote": atoms["h"],
            "method": atoms["m"],
            "path": atoms["U"],  # never the query string: a client may put anything there
            "status": int(atoms["s"]) if str(atoms["s"]).isdigit() else atoms["s"],
            "bytes": atoms["B"],
            "duration_ms": round(request_time.total_seconds() * 1000, 2),
            "request_id": atoms.get("{x-request-id}o"),
            "cache": atoms.get("{x-cache-status}o"),
            "user_agent": atoms["a"],
            "pid": atoms["p"].strip("<>"),
        }
        self.access_log.info(redacted(json.dumps(line)))


logger_class = JsonAccessLogger


def on_starting(server):
    """Start from an empty metrics folder: values of an earlier run must not add up with ours."""
    folder = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder, exist_ok=True)


def child_exit(server, worker):
    """A worker's live gauges leave with it."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def worker_exit(server, worker):
    """Write the error rows still queued and close database connections as a worker leaves."""
    import sys

    module = sys.modules.get("wsgi")
    if module is not None:
        from opitios import stop_background

        stop_background(module.app)
