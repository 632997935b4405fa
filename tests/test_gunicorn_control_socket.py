"""gunicorn.conf.py gives each instance a control socket of its own (or none), so two on one host never collide."""

import re
import shutil
import tempfile
from pathlib import Path

import pytest
from gunicorn.ctl.client import ControlClient

from harness.servers import GunicornServer
from tests.waiting import eventually

LISTENING = re.compile(r"Control socket listening at (\S+)")


@pytest.fixture
def runtime_dir():
    """A short folder in /tmp standing in for $XDG_RUNTIME_DIR (a Unix socket path must stay short)."""
    folder = tempfile.mkdtemp(prefix="opitios-ctl-")
    yield Path(folder)
    shutil.rmtree(folder, ignore_errors=True)


def control_socket(server: GunicornServer) -> str:
    return eventually(lambda: (LISTENING.findall(server.log_since(0)) or [None])[-1], timeout=30)


def listeners(path: str) -> list[str]:
    """What the instance behind the socket at ``path`` says it is bound to, as gunicornc would show it."""
    with ControlClient(path, timeout=10) as client:
        return [listener["address"] for listener in client.send_command("show listeners")["listeners"]]


def gunicorn(runtime_dir: Path, socket_setting: str = "") -> GunicornServer:
    env = {"XDG_RUNTIME_DIR": str(runtime_dir), "OPITIOS_CONTROL_SOCKET": socket_setting}
    return GunicornServer("wsgi:app", workers=1, env=env, control_socket=True)


def test_two_instances_on_one_host_each_answer_on_their_own_control_socket(runtime_dir):
    with gunicorn(runtime_dir) as first, gunicorn(runtime_dir) as second:
        paths = {server.port: control_socket(server) for server in (first, second)}

        assert len(set(paths.values())) == 2
        for port, path in paths.items():
            assert Path(path).parent == runtime_dir
            assert listeners(path) == [f"http://127.0.0.1:{port}"]

        first.stop()
        assert listeners(paths[second.port]) == [second.url]  # the first took only its own away


def test_a_control_socket_can_be_named(runtime_dir):
    path = runtime_dir / "named.ctl"

    with gunicorn(runtime_dir, str(path)) as server:
        assert control_socket(server) == str(path)
        assert listeners(str(path)) == [server.url]


def test_the_control_socket_can_be_turned_off(runtime_dir):
    with gunicorn(runtime_dir, "off") as server:
        assert server.worker_pids()  # up and serving
        assert not LISTENING.search(server.log_since(0))
        assert list(runtime_dir.iterdir()) == []
