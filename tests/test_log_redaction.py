"""Under gunicorn, no API key and no configured secret reaches a log line or an error row, wherever a client puts it."""

import json
import socket

import requests
from sqlalchemy import select

from harness.database import migrated_sqlite
from harness.servers import GunicornServer
from opitios.access.keys import create_key
from opitios.db import make_engine
from opitios.models import ErrorLog
from opitios.redaction import Redactor
from tests.waiting import eventually


def raw_request(port: int, data: bytes) -> bytes:
    """Send bytes as they are (no client library would send a broken request line) and read the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(data)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    return answer


def test_no_key_or_secret_reaches_a_log_line_or_an_error_row(sandbox, tmp_path):
    database = migrated_sqlite(tmp_path, "logs.db")
    engine = make_engine(database)
    key, prefix = create_key(engine, "logged desk", ["read", "trade"])
    secret = key.split("_", 2)[2]
    env = {
        **sandbox.gateway_env(), "DATABASE_URL": database,
        # Debug lines too (flask-cors names the path it matched), and the access lines, with the app's fields in them.
        "OPITIOS_LOG_LEVEL": "debug", "OPITIOS_CORS_ORIGINS": "https://desk.example",
    }
    keyed = {"X-API-Key": key, "Origin": "https://desk.example"}
    with GunicornServer("wsgi:app", workers=1, env=env) as server:
        url = server.url + "/api/v1"
        answers = [
            requests.get(f"{url}/account?access_token={key}&x={key}", timeout=10),  # no key header: 401
            requests.get(f"{url}/stocks/{key}/quote", headers=keyed, timeout=10),  # the key as a symbol: 400
            requests.get(f"{url}/stocks/{sandbox.secret}/quote", headers=keyed, timeout=10),
            requests.post(f"{url}/stocks/quote", json={"symbol": key}, headers=keyed, timeout=10),
            requests.get(f"{url}/health", headers={"User-Agent": f"desk {key} {sandbox.secret}", "Referer": key}, timeout=10),
        ]
        assert [a.status_code for a in answers] == [401, 400, 400, 400, 200]
        # gunicorn refuses a header line without a colon itself, and logs the line it refused.
        broken = raw_request(server.port, f"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-API-Key {key}\r\n\r\n".encode())
        assert broken.split(b" ", 2)[1] == b"400"
        rows = eventually(lambda: len(found := _rows(engine)) >= 4 and json.dumps(found, default=str))
        log = server.log_since(0)
    engine.dispose()
    assert f"opk_{prefix}_[redacted]" in log  # the path of the second request, its prefix still naming the key
    for value in (secret, sandbox.secret, sandbox.key):
        assert value not in log
        assert value not in rows
    assert '"gunicorn.access"' in log and f'"client": "{prefix}"' in log


def _rows(engine) -> list:
    with engine.connect() as connection:
        return [list(row) for row in connection.execute(select(ErrorLog)).all()]


def test_a_line_is_redacted_whatever_the_case_of_a_key_and_however_a_secret_is_escaped():
    redactor = Redactor()
    redactor.add_secrets(['pa"ss\\word1'])
    assert redactor.text("GET /stocks/OpK_0123abcd_SeCrEt-9/quote") == "GET /stocks/OpK_0123abcd_[redacted]/quote"
    assert redactor.text(json.dumps({"user_agent": 'desk pa"ss\\word1'})) == '{"user_agent": "desk [redacted]"}'
    assert redactor.text('{"path": "/api/v1/stocks/AAPL/quote"}') == '{"path": "/api/v1/stocks/AAPL/quote"}'
