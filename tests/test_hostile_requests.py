"""Hostile HTTP sent as raw bytes to opitios under gunicorn: every refusal is the contract's envelope.

gunicorn refuses some requests itself, before the app sees them (a request line or header section
over its limits, a malformed header, a garbage request line); the rest reach the app. Either way a
client that parses our JSON errors gets one, and nothing a client sends puts a traceback in the log.
"""

import http.client
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from typing import NamedTuple

import pytest

from harness.database import migrated_sqlite
from harness.servers import GunicornServer
from tests.waiting import eventually

HEALTH = "/api/v1/health"


@pytest.fixture(scope="module")
def gateway(sandbox_server, tmp_path_factory):
    """One gunicorn with one gevent worker for the whole module: every case here is a single request."""
    folder = tmp_path_factory.mktemp("hostile")
    env = {
        **sandbox_server.gateway_env(),
        "DATABASE_URL": migrated_sqlite(folder, "gateway.db"),  # market data open, no practical client limit
        "PROMETHEUS_MULTIPROC_DIR": str(folder / "metrics"),
    }
    server = GunicornServer("wsgi:app", workers=1, env=env).start()
    yield server
    server.stop()
    server.remove_log()


class Answer(NamedTuple):
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


def exchange(server: GunicornServer, raw: bytes) -> Answer:
    """Send ``raw`` on a new connection and read one HTTP answer to it.

    The bytes go out from a thread while the answer is read: the server may answer (and close)
    before it has read everything, and a refusal must be seen even then.
    """
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as connection:
        sender = threading.Thread(target=_send, args=(connection, raw), daemon=True)
        sender.start()
        response = http.client.HTTPResponse(connection)
        response.begin()
        answer = Answer(response.status, response.headers, response.read())
        response.close()
    sender.join(timeout=30)
    return answer


def _send(connection: socket.socket, raw: bytes) -> None:
    try:
        connection.sendall(raw)
    except OSError:
        pass  # the server answered and closed before reading it all


def request_head(*lines: str, method: str = "GET", target: str = HEALTH) -> bytes:
    return "\r\n".join([f"{method} {target} HTTP/1.1", "Host: opitios.test", *lines, "", ""]).encode("latin-1")


def assert_envelope(answer: Answer, status: int, code: str) -> dict:
    assert answer.status == status, answer.body[:300]
    assert answer.headers.get_content_type() == "application/json"
    assert answer.headers["X-Error-Code"] == code
    body = answer.json()
    assert set(body) == {"error", "metadata"}
    assert body["error"]["code"] == code
    assert body["error"]["type"] == "validation_error"
    assert body["error"]["message"] and isinstance(body["error"]["details"], dict)
    assert body["metadata"]["request_id"] == answer.headers["X-Request-ID"]
    assert body["metadata"]["timestamp"].endswith("Z") and body["metadata"]["suggested_action"]
    return body


# --- what gunicorn refuses before the app sees the request ------------------------------------

GARBAGE_LINE = b"HELLO THERE\r\n\r\n"
TLS_ON_PLAIN_HTTP = b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + bytes(40) + b"\r\n\r\n"

REFUSED_BY_GUNICORN = {
    "a URL over 4094 bytes": (request_head(target=HEALTH + "?pad=" + "a" * 4100), 414, "REQUEST_SIZE_EXCEEDED"),
    "150 header fields": (request_head(*(f"X-Filler-{n}: v" for n in range(150))), 431, "REQUEST_SIZE_EXCEEDED"),
    "a 16 KB header field": (request_head("X-Big: " + "a" * 16 * 1024), 431, "REQUEST_SIZE_EXCEEDED"),
    "a bare CR in a header": (request_head("X-Note: a\rb"), 400, "INVALID_PARAMETER"),
    "a bare LF in a header": (request_head("X-Note: a\nb"), 400, "INVALID_PARAMETER"),
    "a NUL in a header": (request_head("X-Note: a\x00b"), 400, "INVALID_PARAMETER"),
    "a folded header (obs-fold)": (request_head("X-Note: a", " b"), 400, "INVALID_PARAMETER"),
    "a header name with a space": (request_head("X Note: a"), 400, "INVALID_PARAMETER"),
    "Content-Length with Transfer-Encoding": (
        request_head("Content-Length: 5", "Transfer-Encoding: chunked", method="POST", target="/api/v1/stocks/quote")
        + b"0\r\n\r\n",
        400,
        "INVALID_PARAMETER",
    ),
    "a garbage request line": (GARBAGE_LINE, 400, "INVALID_PARAMETER"),
    "TLS on the plain-HTTP port": (TLS_ON_PLAIN_HTTP, 400, "INVALID_PARAMETER"),
    "an unknown HTTP version": (b"GET / HTTP/7.0\r\nHost: x\r\n\r\n", 400, "INVALID_PARAMETER"),
    "an unknown transfer coding": (request_head("Transfer-Encoding: bogus", method="POST"), 501, "INVALID_PARAMETER"),
}


@pytest.mark.parametrize("raw, status, code", REFUSED_BY_GUNICORN.values(), ids=REFUSED_BY_GUNICORN.keys())
def test_what_gunicorn_refuses_is_the_envelope(gateway, raw, status, code):
    answer = exchange(gateway, raw)
    assert_envelope(answer, status, code)
    assert answer.headers["Connection"] == "close"  # where the next request would start is unknown
    assert answer.headers["X-Content-Type-Options"] == "nosniff"


def test_a_refusal_names_the_limit_it_broke(gateway):
    long_line = assert_envelope(exchange(gateway, REFUSED_BY_GUNICORN["a URL over 4094 bytes"][0]), 414, "REQUEST_SIZE_EXCEEDED")
    assert long_line["error"]["details"] == {"limit_bytes": 4094}
    many = assert_envelope(exchange(gateway, REFUSED_BY_GUNICORN["150 header fields"][0]), 431, "REQUEST_SIZE_EXCEEDED")
    assert many["error"]["details"] == {"max_fields": 100, "max_field_bytes": 8190}


def test_a_refusal_after_the_headers_were_read_echoes_the_request_id_and_names_the_path(gateway):
    raw = request_head("X-Request-ID: trace-42", "Content-Length: 5", "Transfer-Encoding: chunked",
                       method="POST", target="/api/v1/stocks/quote")
    body = assert_envelope(exchange(gateway, raw + b"0\r\n\r\n"), 400, "INVALID_PARAMETER")
    assert body["metadata"]["request_id"] == "trace-42"
    assert body["metadata"]["endpoint"] == "/api/v1/stocks/quote"


def test_a_refusal_before_the_headers_were_read_has_a_new_request_id_and_no_path(gateway):
    answer = exchange(gateway, request_head("X-Request-ID: trace-44", "X-Note: a\x00b"))
    body = assert_envelope(answer, 400, "INVALID_PARAMETER")
    assert len(body["metadata"]["request_id"]) == 32 and body["metadata"]["endpoint"] is None


def test_a_refusal_is_logged_as_one_warning_and_one_access_line(gateway):
    start = gateway.log_size()
    raw = request_head("X-Request-ID: trace-43", "Content-Length: 5", "Transfer-Encoding: chunked", method="POST")
    assert_envelope(exchange(gateway, raw + b"0\r\n\r\n"), 400, "INVALID_PARAMETER")
    log = gateway.log_since(start)
    assert "Invalid request from ip=127.0.0.1" in log
    assert [(line["status"], line["request_id"]) for line in access_lines(log)] == [(400, "trace-43")]


def test_gunicorns_master_loads_the_worker_class_without_the_app():
    """The master imports the worker class before any worker lets gevent patch the standard library."""
    app_modules = ("flask", "werkzeug", "redis", "requests", "sqlalchemy")
    code = f"import sys, opitios.gunicorn_worker; print([m for m in {app_modules!r} if m in sys.modules])"
    imported = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert imported.strip() == "[]"


# --- bodies: bounded alike, and refused before the limiter or authentication ------------------

QUOTE = "/api/v1/stocks/quote"
BATCH = "/api/v1/stocks/quotes/batch"
LIMITER_TROUBLE = ("Traceback", "Failed to rate limit", "storage unreachable")


def json_padded(size: int, body: str = '{"symbol": "AAPL"}') -> bytes:
    """Valid JSON of ``size`` bytes (trailing whitespace)."""
    return body.encode().ljust(size)


def chunked(body: bytes, chunk: int = 8192) -> bytes:
    pieces = [body[at:at + chunk] for at in range(0, len(body), chunk)]
    return b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces) + b"0\r\n\r\n"


def post_chunked(path: str, body: bytes) -> bytes:
    head = request_head("Content-Type: application/json", "Transfer-Encoding: chunked", method="POST", target=path)
    return head + chunked(body)


def post_with_length(path: str, body: bytes) -> bytes:
    head = request_head("Content-Type: application/json", f"Content-Length: {len(body)}", method="POST", target=path)
    return head + body


@pytest.mark.parametrize("size", [70 * 1024, 2 * 1024 * 1024], ids=["70 KB", "2 MB"])
@pytest.mark.parametrize("framing", [post_chunked, post_with_length], ids=["chunked", "content-length"])
def test_a_body_over_the_limit_is_413_whatever_its_framing(gateway, framing, size):
    answer = exchange(gateway, framing(QUOTE, json_padded(size)))
    assert answer.status == 413 and answer.headers["X-Error-Code"] == "REQUEST_SIZE_EXCEEDED"
    assert answer.json()["error"]["code"] == "REQUEST_SIZE_EXCEEDED"


def test_a_chunked_body_within_the_limit_is_served(gateway):
    answer = exchange(gateway, post_chunked(QUOTE, json_padded(60 * 1024)))
    assert answer.status == 200 and answer.json()["data"]["symbol"] == "AAPL"


@pytest.mark.parametrize("framing", [post_chunked, post_with_length], ids=["chunked", "content-length"])
def test_an_oversized_batch_leaves_the_rate_limiter_alone(gateway, framing):
    start = gateway.log_size()
    answer = exchange(gateway, framing(BATCH, json_padded(70 * 1024, '{"symbols": ["AAPL", "MSFT"]}')))
    assert answer.status == 413 and answer.headers["X-Error-Code"] == "REQUEST_SIZE_EXCEEDED"
    log = gateway.log_since(start)
    assert not [trouble for trouble in LIMITER_TROUBLE if trouble in log], log


def test_a_malformed_chunked_body_is_400_invalid_request_body(gateway):
    raw = request_head("Content-Type: application/json", "Transfer-Encoding: chunked", method="POST", target=QUOTE)
    answer = exchange(gateway, raw + b"zz\r\n{}\r\n0\r\n\r\n")
    assert answer.status == 400 and answer.headers["X-Error-Code"] == "INVALID_REQUEST_BODY"


# --- nothing a client sends puts a traceback in the log ---------------------------------------

HOSTILE_BODIES = [
    post_chunked(QUOTE, json_padded(70 * 1024)),
    post_chunked(BATCH, json_padded(2 * 1024 * 1024, '{"symbols": ["AAPL"]}')),
    post_with_length(BATCH, json_padded(70 * 1024, '{"symbols": ["AAPL"]}')),
    request_head("Transfer-Encoding: chunked", method="POST", target=QUOTE) + b"zz\r\n{}\r\n0\r\n\r\n",
    request_head("Transfer-Encoding: chunked", method="POST", target=QUOTE) + b"2\r\n{}XX0\r\n\r\n",
]


def test_no_hostile_request_puts_a_traceback_in_the_log(gateway):
    start = gateway.log_size()
    hostile = [raw for raw, _, _ in REFUSED_BY_GUNICORN.values()] + HOSTILE_BODIES
    statuses = [exchange(gateway, raw).status for raw in hostile]
    assert all(400 <= status < 500 or status == 501 for status in statuses), statuses
    health = exchange(gateway, request_head())
    assert health.status == 200  # and the worker still serves
    log = gateway.log_since(start)
    assert "Traceback" not in log and "Failed to rate limit" not in log and "storage unreachable" not in log


def pipelined(tag: str, count: int) -> bytes:
    """``count`` keep-alive requests for the health route in one piece, each with its own request id."""
    return b"".join(request_head(f"X-Request-ID: {tag}-{index:02d}") for index in range(count))


def test_a_client_that_pipelines_does_not_keep_the_worker_from_other_connections(gateway):
    """Two connections' requests waiting at once are answered in turn, not one connection's all first.

    The worker (the module's one) is stopped while both connections send 30 pipelined requests, so
    both are waiting when it resumes, whatever the machine's load; the health route does no I/O, so
    only the worker's own turn-taking can interleave them.
    """
    count = 30
    first, second = (socket.create_connection(("127.0.0.1", gateway.port), timeout=30) for _ in range(2))
    with first, second, first.makefile("rb") as first_answers, second.makefile("rb") as second_answers:
        for connection, answers in ((first, first_answers), (second, second_answers)):
            connection.sendall(request_head("X-Request-ID: warm"))  # accepted, its greenlet waiting for more
            assert read_statuses(answers, 1) == [200]
        (worker,) = gateway.worker_pids()
        start = gateway.log_size()
        os.kill(worker, signal.SIGSTOP)
        try:
            first.sendall(pipelined("first", count))
            second.sendall(pipelined("second", count))
        finally:
            os.kill(worker, signal.SIGCONT)
        assert read_statuses(first_answers, count) == read_statuses(second_answers, count) == [200] * count

    def served() -> list[str]:  # gunicorn writes each access line just after its answer: wait for the last ones
        tags = [entry["request_id"].split("-")[0] for entry in access_lines(gateway.log_since(start))]
        tags = [tag for tag in tags if tag in ("first", "second")]  # not the warming ones
        return tags if len(tags) == 2 * count else None

    served = eventually(served)
    longest_run = max(len(list(run)) for _, run in itertools.groupby(served))
    assert longest_run <= 3, "".join(tag[0] for tag in served)  # one connection served all its 30 before the other's first: a run of 30


def read_statuses(answers, count: int) -> list[int]:
    """The statuses of the next ``count`` answers read from a keep-alive connection's file (Content-Length framed)."""
    statuses = []
    for _ in range(count):
        statuses.append(int(answers.readline().split()[1]))
        length = 0
        while (line := answers.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        answers.read(length)
    return statuses


def access_lines(log: str) -> list[dict]:
    return [json.loads(line) for line in log.splitlines() if '"gunicorn.access"' in line]
