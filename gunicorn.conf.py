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
import time

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
# A worker is recycled after this many requests, a guard against slow leaks. A new worker imports the whole
# app (about a second of CPU) and drops its keep-alive connections, so at 10 000 a busy worker spent a
# tenth of its time booting (the profile of make bench's (a)); at 200 000 it recycles every few minutes.
max_requests = 200_000
max_requests_jitter = 20_000
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


# Where the app leaves its own access fields in the WSGI environ: opitios/logs.py's ACCESS_FIELDS.
APP_ACCESS_FIELDS = "opitios.access"


def _timestamp(now):
    """Like the app's log lines (logging's asctime): local time, milliseconds after a comma."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now)) + ",%03d" % (now % 1 * 1000)


class JsonAccessLogger(Logger):
    """The one access line of each request, a JSON object like the application's own log lines.

    gunicorn writes it once the answer is sent, for every request it answers, those it refuses
    itself included (opitios/gunicorn_worker.py). The app adds what it knows through the environ:
    the URL rule, the upstream calls, the key prefix, and the request id and cache status, which
    would otherwise be looked for among the answer's headers. When the app never saw the request,
    the id comes from the headers and the rest is null. Read straight from the request and
    response, not through ``Logger.atoms()``, which builds a dict of every header on every request.
    """

    def setup(self, cfg):
        super().setup(cfg)  # again on every reload: one filter is enough
        if not any(isinstance(each, RedactedRecords) for each in self.error_log.filters):
            self.error_log.addFilter(RedactedRecords())

    def access(self, resp, req, environ, request_time):
        if not (self.cfg.accesslog or self.cfg.logconfig or self.cfg.logconfig_dict or self.cfg.syslog):
            return
        request_id = cache = None
        app_fields = environ.get(APP_ACCESS_FIELDS)
        if app_fields is None:  # a request the app never saw: its id (if any) is in the answer's headers
            for name, value in resp.headers:
                lowered = name.lower()
                if lowered == "x-request-id":
                    request_id = value
                elif lowered == "x-cache-status":
                    cache = value
        status = str(resp.status).split(None, 1)[0]
        line = {
            "timestamp": _timestamp(time.time()),
            "level": "INFO",
            "logger": "gunicorn.access",
            "message": "request",
            "request_id": request_id,
            "method": environ.get("REQUEST_METHOD"),
            "endpoint": None,
            "path": environ.get("PATH_INFO"),  # never the query string: a client may put anything there
            "status": int(status) if status.isdigit() else status,
            "duration_ms": round(request_time.total_seconds() * 1000, 2),
            "cache": cache,
            "upstream_calls": None,
            "client": None,
            "remote": environ.get("REMOTE_ADDR", "-"),
            "bytes": getattr(resp, "sent", None),
            "user_agent": environ.get("HTTP_USER_AGENT", "-"),
            "pid": os.getpid(),
        }
        line.update(app_fields or ())
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
