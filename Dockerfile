# opitios: the gateway under gunicorn (gevent workers), as a non-root container on port 8081.
#
#   docker build -t opitios:0.1.0 .
#   docker run -d --name opitios -p 8081:8081 -v opitios-data:/data --env-file opitios.env opitios:0.1.0
#
# docs/docker.md says what the image holds, which environment it reads and what the entrypoint does.

# ---- build: install opitios (not editable) and its dependencies into a virtualenv -----------------
FROM python:3.11.14-slim-bookworm AS build

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
# What setuptools needs to build the distribution (setup.cfg reads README.md as long_description).
COPY pyproject.toml setup.cfg README.md ./
COPY opitios ./opitios
COPY providers ./providers
# A regular (non-editable) install builds a wheel and installs it, so the opitios.providers entry
# points are in the venv's installed metadata (opitios-*.dist-info/entry_points.txt).
RUN pip install --no-cache-dir .

# ---- runtime: the venv, the files read at start, nothing else ------------------------------------
FROM python:3.11.14-slim-bookworm AS runtime

LABEL org.opencontainers.image.title="opitios" \
      org.opencontainers.image.description="Market-data and trading gateway in front of Alpaca (gunicorn + gevent)"

# No secret here: ALPACA_API_KEY / ALPACA_SECRET_KEY, REDIS_URL, a PostgreSQL DATABASE_URL come
# from `docker run --env-file` (or the orchestrator's secrets) at run time. Writable places: /data
# (the SQLite default) and /tmp (metrics files; XDG_RUNTIME_DIR holds gunicorn's control socket,
# which it would otherwise try to create under the user's home, /nonexistent). The entrypoint
# creates both /tmp folders, so `--read-only --tmpfs /tmp` works.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    OPITIOS_BIND=0.0.0.0:8081 \
    PROMETHEUS_MULTIPROC_DIR=/tmp/opitios-metrics \
    XDG_RUNTIME_DIR=/tmp/opitios-run \
    DATABASE_URL=sqlite:////data/opitios.db

RUN groupadd --system --gid 10001 opitios \
 && useradd --system --uid 10001 --gid opitios --home-dir /nonexistent --no-create-home \
        --shell /usr/sbin/nologin opitios \
 && mkdir -p /data \
 && chown opitios:opitios /data

COPY --from=build /opt/venv /opt/venv

# Where the migrations must be: opitios/migrate.py opens PROJECT_ROOT / "alembic.ini", and
# opitios/db.py sets PROJECT_ROOT to the parent folder of the imported `opitios` package. Installed
# (not editable), that package is /opt/venv/lib/python3.11/site-packages/opitios, so PROJECT_ROOT is
# site-packages: alembic.ini goes there, and migrations/ beside it (alembic.ini's script_location
# is %(here)s/migrations). Nothing under site-packages is writable by the service user, which is
# why DATABASE_URL above points at /data instead of the default PROJECT_ROOT/instance.
COPY alembic.ini /opt/venv/lib/python3.11/site-packages/alembic.ini
COPY migrations /opt/venv/lib/python3.11/site-packages/migrations
# Fail the build, not the first start, if the code looks elsewhere or the entry points are missing.
RUN ["/opt/venv/bin/python", "-c", "from importlib.metadata import entry_points; from opitios.db import PROJECT_ROOT as r; assert (r / 'alembic.ini').is_file() and (r / 'migrations' / 'env.py').is_file(), r; assert 'alpaca' in entry_points(group='opitios.providers').names"]

WORKDIR /app
COPY wsgi.py gunicorn.conf.py ./
COPY docker/entrypoint.sh /app/docker/entrypoint.sh

# Numeric, so an orchestrator can verify runAsNonRoot without reading /etc/passwd.
USER 10001:10001
VOLUME ["/data"]
EXPOSE 8081

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/opt/venv/bin/python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8081/api/v1/health', timeout=4)"]

# The script applies the migrations (`opitios db upgrade`), then execs
# `gunicorn -c gunicorn.conf.py wsgi:app` as PID 1; any other command (`opitios keys list`) runs as given.
ENTRYPOINT ["/bin/sh", "/app/docker/entrypoint.sh"]
CMD ["serve"]
