"""Every error response leaves an error_logs row, written off the request path, and never a secret."""

import pytest
from sqlalchemy import select

from opitios import extensions
from opitios.db import make_engine
from opitios.error_log import ErrorLogWriter
from opitios.models import ErrorLog


def logged(engine):
    with engine.connect() as connection:
        return connection.execute(select(ErrorLog).order_by(ErrorLog.id)).all()


@pytest.fixture
def app(make_app):
    app = make_app()

    @app.get("/api/v1/_boom")
    def boom():
        raise RuntimeError("kaboom")

    return app


@pytest.mark.parametrize(
    "method, path, kwargs, status, code",
    [
        ("get", "/nope?api_key=hunter2&x=1", {}, 404, "NOT_FOUND"),
        ("delete", "/api/v1/stocks/AAPL/quote", {}, 405, "METHOD_NOT_ALLOWED"),
        ("post", "/api/v1/stocks/quote", {"data": "x" * 70000, "content_type": "application/json"}, 413, "REQUEST_SIZE_EXCEEDED"),
        ("post", "/api/v1/stocks/quote", {"json": {"symbol": "b$d"}}, 400, "INVALID_SYMBOL_FORMAT"),
        ("get", "/api/v1/stocks/AAPL/bars?timeframe=2Min", {}, 400, "INVALID_PARAMETER"),
        ("get", "/api/v1/stocks/ZZZZ/quote", {}, 404, "SYMBOL_NOT_FOUND"),
        ("get", "/api/v1/_boom", {}, 500, "INTERNAL_SERVICE_ERROR"),
    ],
)
def test_each_error_class_writes_a_row(app, engine, method, path, kwargs, status, code):
    response = getattr(app.test_client(), method)(path, **kwargs)
    assert response.status_code == status
    assert extensions.of(app).error_log.flush()
    [row] = logged(engine)
    assert (row.error_code, row.http_status, row.method) == (code, status, method.upper())
    assert row.request_id == response.headers["X-Request-ID"]
    assert row.endpoint == path.split("?")[0]
    assert row.message == response.get_json()["error"]["message"]
    assert row.context["details"] == response.get_json()["error"]["details"]
    assert row.created_at is not None
    assert "hunter2" not in str(row.context)


def test_upstream_errors_are_logged_with_their_details(app, engine, sandbox):
    sandbox.switches(error_status=503, path_prefix="/v2/stocks")
    app.test_client().get("/api/v1/stocks/AAPL/quote")
    extensions.of(app).error_log.flush()
    [row] = logged(engine)
    assert row.error_code == "UPSTREAM_SERVICE_ERROR" and row.context["details"]["upstream_status"] == 503
    assert sandbox.key not in str(row.context) and sandbox.secret not in str(row.context)


def secret_part(key):
    return key.split("_", 2)[2]


def test_rows_keep_only_the_query_parameters_the_route_declares(app, engine):
    client = app.test_client()
    client.get("/api/v1/stocks/AAPL/bars?timeframe=2Min&limit=5&debug=hunter2&callback=s3")
    client.get("/nope?api_key=hunter2&symbol=AAPL")  # no route: nothing is declared
    extensions.of(app).error_log.flush()
    bars, nope = logged(engine)
    assert bars.context["query"] == {"timeframe": "2Min", "limit": "5"}
    assert nope.context["query"] == {}


@pytest.mark.parametrize("name", ["access_token", "bearer", "jwt", "sig", "session", "x", "opk", "symbol"])
def test_a_key_in_the_query_never_reaches_a_row_whatever_the_parameter_is_called(app, engine, api_key, name):
    client = app.test_client()
    client.environ_base.pop("HTTP_X_API_KEY")
    response = client.get(f"/api/v1/stocks/AAPL/quote?{name}={api_key}")
    assert response.status_code == 401
    extensions.of(app).error_log.flush()
    [row] = logged(engine)
    assert secret_part(api_key) not in str(list(row))


def test_key_shaped_and_configured_secret_values_are_redacted_wherever_a_row_holds_them(app, engine, api_key, sandbox):
    prefix = api_key.split("_")[1]
    client = app.test_client()
    echoed = client.get(f"/api/v1/stocks/{api_key}/quote")  # the message and details name the bad symbol
    assert echoed.headers["X-Error-Code"] == "INVALID_SYMBOL_FORMAT"
    client.post("/api/v1/stocks/quote", json={api_key: "AAPL"})  # an unknown field is named in the details
    client.post("/api/v1/stocks/quotes/batch", json={"symbols": ["AAPL", f"x{api_key}x"]})
    client.get(f"/api/v1/stocks/AAPL/bars?timeframe={sandbox.secret}&start={sandbox.key}")
    client.get(f"/api/v1/orders/{sandbox.secret}")
    client.get(f"/api/v1/options/{api_key.upper()}/quote")
    extensions.of(app).error_log.flush()
    rows = logged(engine)
    assert len(rows) == 6
    everything = str([list(row) for row in rows])
    for secret in (secret_part(api_key), secret_part(api_key).upper(), sandbox.secret, sandbox.key):
        assert secret not in everything
    assert rows[0].endpoint == f"/api/v1/stocks/opk_{prefix}_[redacted]/quote"  # the prefix names the key
    assert f"opk_{prefix}_[redacted]" in rows[0].message
    assert rows[3].context["query"] == {"timeframe": "[redacted]", "start": "[redacted]"}


def test_successes_write_nothing(app, engine):
    assert app.test_client().get("/api/v1/stocks/AAPL/quote").status_code == 200
    extensions.of(app).error_log.flush()
    assert logged(engine) == []


def test_a_full_queue_drops_and_counts_without_failing(engine):
    writer = ErrorLogWriter(engine, maxsize=2)  # not started: nothing drains it
    for number in range(5):
        writer.record(request_id=f"r{number}", code="NOT_FOUND", status=404, message="m", endpoint="/x", method="GET", context={})
    assert writer.status() == {"written": 0, "dropped": 3, "queued": 2}


def test_a_down_database_drops_and_counts_without_failing():
    writer = ErrorLogWriter(make_engine("postgresql+psycopg://postgres@127.0.0.1:9/none"))
    writer.start()
    writer.record(request_id="r1", code="NOT_FOUND", status=404, message="m", endpoint="/x", method="GET", context={})
    assert writer.flush()
    assert writer.status()["dropped"] == 1
    writer.stop()


def test_errors_tail_shows_recent_rows(app, engine, runner):
    client = app.test_client()
    client.get("/nope")
    client.get("/api/v1/stocks/ZZZZ/quote", headers={"X-Request-ID": "tail-me"})
    extensions.of(app).error_log.flush()
    result = runner.invoke(args=["errors", "tail", "-n", "1"])
    assert result.exit_code == 0
    assert "SYMBOL_NOT_FOUND" in result.output and "tail-me" in result.output and "/nope" not in result.output
