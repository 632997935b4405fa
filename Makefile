# opitios: `make run` serves on embedded defaults, `make test` passes the whole suite,
# `make demo` serves the bundled offline sandbox upstream. Each sets itself up first.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check

.PHONY: install install-test run demo test services clean bench faults

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

# Editable install: the opitios.providers entry points exist only in installed metadata.
$(VENV)/.installed: $(VENV)/bin/python setup.cfg pyproject.toml
	$(PIP) install -q -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

run: install
	$(VENV)/bin/opitios db upgrade
	$(VENV)/bin/gunicorn -c gunicorn.conf.py wsgi:app

demo: install
	scripts/demo.sh

services:
	scripts/services.sh

test: install-test services
	$(PY) -m pytest

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
