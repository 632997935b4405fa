#!/bin/sh
# The container's entrypoint (Dockerfile: ENTRYPOINT ["/bin/sh", "/app/docker/entrypoint.sh"], CMD ["serve"]).
#
#   serve (the default)  apply the Alembic migrations to DATABASE_URL, then replace this shell with
#                        gunicorn, so gunicorn is PID 1 and gets docker stop's SIGTERM itself.
#   anything else        run as given, e.g. `opitios keys list` or `opitios db current`.
#
# A failed migration stops the container before gunicorn starts (set -e).
set -eu

# prometheus_client writes one file per process here; gunicorn.conf.py empties it when gunicorn starts.
if [ -n "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
    mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
fi
# gunicorn (25.1 and later) puts its control socket (for gunicornc) in XDG_RUNTIME_DIR when that exists.
if [ -n "${XDG_RUNTIME_DIR:-}" ]; then
    mkdir -p -m 0700 "$XDG_RUNTIME_DIR"
fi

if [ "$#" -eq 0 ] || [ "$1" = "serve" ]; then
    opitios db upgrade
    exec gunicorn -c gunicorn.conf.py wsgi:app
fi

exec "$@"
