# opitios: `make run` serves on embedded defaults, `make test` passes the whole suite,
# `make demo` serves the bundled offline sandbox upstream, `make cluster` starts three instances behind
# nginx on Redis Sentinel with Prometheus (`make cluster-stop` stops them). Each sets itself up first.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check

.PHONY: install install-test run demo test services cluster-packages cluster cluster-stop clean bench faults

# Each step says what it is doing before it does it: a fresh install takes a minute or more.
$(VENV)/bin/python:
	@echo "make: creating the virtual environment $(VENV)"
	@$(PYTHON) -m venv $(VENV)

# Editable install: the opitios.providers entry points exist only in installed metadata.
$(VENV)/.installed: $(VENV)/bin/python setup.cfg pyproject.toml
	@echo "make: installing opitios and its dependencies into $(VENV) (about a minute on a fresh clone)"
	@$(PIP) install -q -e .
	@touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	@echo "make: installing the test tools (pytest, schemathesis, hadolint, ...)"
	@$(PIP) install -q -e '.[test]'
	@touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

run: install
	$(VENV)/bin/opitios db upgrade
	$(VENV)/bin/gunicorn -c gunicorn.conf.py wsgi:app

demo: install services
	scripts/demo.sh

services:
	scripts/services.sh

# nginx and Prometheus (promtool) from Debian's packages, when missing: the cluster and its test use them.
cluster-packages:
	@scripts/cluster-packages.sh

# The cluster test (tests/test_cluster.py, marked `cluster`: `-m cluster` selects it, `-m "not cluster"`
# leaves it out) starts its own cluster on free ports and takes about two minutes of the suite.
test: install-test services cluster-packages
	@echo "make: running the whole suite"
	$(PY) -m pytest

# All on 127.0.0.1 with fixed ports (nginx :8080, Prometheus :9090; see cluster/topology.py); logs, pid
# files and configurations in instance/cluster/. The machine's PostgreSQL keeps the database opitios_cluster.
cluster: install services cluster-packages
	$(PY) -m cluster start

cluster-stop:
	$(PY) -m cluster stop

# opitios (API key, rate limits, metrics, Redis) and a bare Flask route side by side under gunicorn, against
# the sandbox with 50 ms upstream latency, scenarios (a)-(e) of BENCHMARKS.md; about 4 minutes. bench.run
# installs wrk with apt-get when it is missing and falls back to a Python generator.
bench: install-test services
	$(PY) -m bench.run

# opitios under gunicorn against the sandbox, under steady load, through upstream 500/503/timeouts/latency/429,
# a 3 s market clock, a Redis kill and empty restart and a PostgreSQL outage (bench/faults.py); about 4 minutes.
# Prints upstream calls per 60 s window, 5xx and stale answers; exits 1 if an answer claimed fresh data that was not.
faults: install-test services
	$(PY) -m bench.faults

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
