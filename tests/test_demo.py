"""`make demo` (scripts/demo.sh) as a newcomer meets it: its commands reach its database, its limits leave
room, a taken port stops it."""

import re
import socket
import subprocess

import pytest
import requests

from harness.servers import port_open
from tests.demo_run import DEMO_SCRIPT, ROOT, Demo, demo_env
from tests.waiting import eventually


QUOTE = "/api/v1/stocks/AAPL/quote"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    with Demo(tmp_path_factory.mktemp("demo")) as running:
        yield running


def test_the_demo_limits_leave_a_newcomer_room(demo):
    answers = [requests.get(demo.url + QUOTE, timeout=30) for _ in range(4)]

    assert [answer.status_code for answer in answers] == [200] * 4
    assert {int(answer.headers["X-RateLimit-Limit"]) for answer in answers} == {100000}


def printed_commands(output: str) -> dict[str, str]:
    """The commands the demo printed for its own database, by what they do ("keys create", "config set")."""
    commands = {}
    for line in output.splitlines():
        found = re.match(r"\s+(DATABASE_URL=\S+ \S+/opitios (keys create|config set) .*)$", line)
        if found:
            commands[found.group(2)] = found.group(1)
    return commands


def test_the_commands_the_demo_prints_reach_the_running_demo(demo, tmp_path):
    commands = printed_commands(demo.output())
    assert set(commands) == {"keys create", "config set"}, demo.output()

    made = subprocess.run(["bash", "-c", commands["keys create"]], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip().splitlines()[-1]
    keyed = requests.get(demo.url + QUOTE, headers={"X-API-Key": key}, timeout=30)
    assert keyed.status_code == 200, keyed.text  # a key of another database would be 401 INVALID_API_KEY

    changed = subprocess.run(["bash", "-c", commands["config set"]], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert changed.returncode == 0, changed.stderr
    limit = re.search(r"anonymous_per_hour=(\d+)", commands["config set"]).group(1)
    eventually(lambda: requests.get(demo.url + QUOTE, timeout=30).headers["X-RateLimit-Limit"] == limit, timeout=30)
    assert list(tmp_path.iterdir()) == []  # the commands wrote to the demo's database, nowhere else


@pytest.mark.parametrize("taken, named", [("SANDBOX_PORT", "SANDBOX_PORT="), ("OPITIOS_BIND", "OPITIOS_BIND=")])
def test_a_taken_port_stops_the_demo_with_a_clear_message(tmp_path, taken, named):
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    env = demo_env(tmp_path, **{taken: str(port) if taken == "SANDBOX_PORT" else f"127.0.0.1:{port}"})
    try:
        done = subprocess.run(["bash", str(DEMO_SCRIPT)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    finally:
        holder.close()

    assert done.returncode == 1
    assert f"port {port}" in done.stderr and "in use" in done.stderr and named in done.stderr
    assert not (tmp_path / "instance" / "demo.db").exists()  # it stopped before it started anything
    assert "SANDBOX LISTENING" not in done.stdout


def test_the_demo_serves_sandbox_data_until_it_is_stopped(tmp_path):
    demo = Demo(tmp_path).start()
    try:
        answer = requests.get(demo.url + QUOTE, timeout=30)
        control = requests.get(f"http://127.0.0.1:{demo.env['SANDBOX_PORT']}/_sandbox/", timeout=30)
    finally:
        demo.stop()

    assert answer.status_code == 200 and answer.json()["metadata"]["data_source"] == "sandbox_synthetic"
    assert control.status_code == 200  # the control URL the banner shows
    assert "/_sandbox/" in demo.output() and "not real market data" in demo.output()
    assert not port_open(demo.port) and not port_open(int(demo.env["SANDBOX_PORT"]))  # both stopped with it
    assert (tmp_path / "instance" / "demo.db").is_file()  # its files went where DEMO_INSTANCE said
