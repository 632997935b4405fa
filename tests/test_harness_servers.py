"""harness.servers.GunicornServer runs opitios under real gunicorn workers against the sandbox, and stops it."""

import http.client
import json

import pytest

from harness.database import migrated_sqlite
from harness.servers import GunicornServer, port_open
from sandbox.client import SandboxServer


@pytest.fixture(scope="module")
def upstream():
    # Its own sandbox and database, so this test does not depend on how conftest wires the others.
    with SandboxServer() as server:
        yield server


def get_json(port: int, path: str) -> tuple[int, dict]:
    # A fresh connection closed at once: an idle keep-alive connection would hold a worker's
    # graceful shutdown for gunicorn's keepalive seconds.
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers={"Connection": "close"})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_gunicorn_server_serves_opitios_and_stops(upstream, tmp_path):
    url = migrated_sqlite(tmp_path)
    server = GunicornServer("wsgi:app", workers=2, env={**upstream.gateway_env(), "DATABASE_URL": url})
    with server:
        assert server.url == f"http://127.0.0.1:{server.port}"
        status, body = get_json(server.port, "/api/v1/stocks/AAPL/quote")
        assert status == 200, body
        assert body["data"]["symbol"] == "AAPL"
    assert not port_open(server.port)
    assert server.log_path == ""  # the output file went with the context


def test_a_failed_start_raises_with_gunicorn_output():
    with pytest.raises(RuntimeError, match="No module named 'no_such_module'"):
        GunicornServer("no_such_module:app", ready_path=None).start()
