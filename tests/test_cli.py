"""The `opitios` command as a user runs it: commands that need no database open none."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from opitios.db import PROJECT_ROOT

OPITIOS = Path(sys.executable).with_name("opitios")  # the console script `pip install -e .` made
DEFAULT_INSTANCE = PROJECT_ROOT / "instance"


def listing(folder: Path) -> list[str] | None:
    return sorted(path.name for path in folder.iterdir()) if folder.exists() else None


def run_cli(*args, cwd: Path, database_url: str | None) -> subprocess.CompletedProcess:
    env = {name: value for name, value in os.environ.items() if name != "DATABASE_URL"}
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    return subprocess.run([str(OPITIOS), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("args", [["--help"], ["openapi"], ["db", "--help"], ["providers"]])
def test_commands_that_need_no_database_open_none(args, tmp_path):
    instance = tmp_path / "instance"
    url = f"sqlite:///{instance / 'opitios.db'}"

    done = run_cli(*args, cwd=tmp_path, database_url=url)

    assert done.returncode == 0, done.stderr
    assert not instance.exists()  # no folder, no database file
    assert "ERROR" not in done.stderr and "database unavailable" not in done.stderr, done.stderr
    assert listing(tmp_path) == []  # nothing in the working folder either


@pytest.mark.parametrize("args", [["--help"], ["openapi"]])
def test_with_the_default_database_the_instance_folder_is_left_as_it_was(args, tmp_path):
    before = listing(DEFAULT_INSTANCE)

    done = run_cli(*args, cwd=tmp_path, database_url=None)

    assert done.returncode == 0, done.stderr
    assert listing(DEFAULT_INSTANCE) == before
    assert "ERROR" not in done.stderr, done.stderr


def test_openapi_prints_the_description(tmp_path):
    done = run_cli("openapi", cwd=tmp_path, database_url=f"sqlite:///{tmp_path / 'none.db'}")

    spec = json.loads(done.stdout)
    assert spec["openapi"].startswith("3.") and "/api/v1/stocks/{symbol}/quote" in spec["paths"]
    assert not (tmp_path / "none.db").exists()


def test_a_command_that_needs_the_database_still_makes_its_folder(tmp_path):
    instance = tmp_path / "instance"

    done = run_cli("db", "upgrade", cwd=tmp_path, database_url=f"sqlite:///{instance / 'opitios.db'}")

    assert done.returncode == 0, done.stderr
    assert (instance / "opitios.db").is_file()


def test_a_database_command_writes_no_metrics_where_the_deployment_keeps_them(tmp_path):
    """PROMETHEUS_MULTIPROC_DIR is set for the whole deployment; only the app's workers may write there."""
    metrics = tmp_path / "metrics"  # gunicorn makes it when it starts; a migration runs before that
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(metrics), "DATABASE_URL": f"sqlite:///{tmp_path / 'o.db'}"}

    done = subprocess.run([str(OPITIOS), "db", "upgrade"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)

    assert done.returncode == 0, done.stderr
    assert not metrics.exists()
