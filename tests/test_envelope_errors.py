"""Every failure is the contract's error envelope with X-Error-Code; never a stack trace or a secret."""

import pytest


SECRET = "top-secret-value-123"


@pytest.fixture
def app(new_app):
    # Credentials point at a closed port: nothing here may reach an upstream.
    app = new_app(
        {"ALPACA_API_KEY": "key-id", "ALPACA_SECRET_KEY": SECRET, "ALPACA_DATA_URL": "http://127.0.0.1:9", "ALPACA_TRADING_URL": "http://127.0.0.1:9"}
    )

    @app.get("/api/v1/_boom")
    def boom():
        raise RuntimeError(f"kaboom with {SECRET}")

    return app


@pytest.fixture
def client(app):
    return app.test_client()


def assert_error_envelope(response, status, code, path):
    assert response.status_code == status
    assert response.headers["X-Error-Code"] == code
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error", "metadata"}
    assert body["error"]["code"] == code
    assert body["error"]["type"] and body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)
    metadata = body["metadata"]
    assert metadata["request_id"] == response.headers["X-Request-ID"]
    assert metadata["endpoint"] == path
    assert metadata["timestamp"].endswith("Z")
    assert metadata["suggested_action"]
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and SECRET not in text
    return body


@pytest.mark.parametrize(
    "method, path, kwargs, status, code",
    [
        ("get", "/nope", {}, 404, "NOT_FOUND"),
        ("get", "/api/v1/stocks", {}, 404, "NOT_FOUND"),
        ("delete", "/api/v1/stocks/AAPL/quote", {}, 405, "METHOD_NOT_ALLOWED"),
        ("get", "/api/v1/stocks/quote", {}, 405, "METHOD_NOT_ALLOWED"),
        ("post", "/api/v1/stocks/quote", {"data": "x" * (65 * 1024), "content_type": "application/json"}, 413, "REQUEST_SIZE_EXCEEDED"),
        ("post", "/api/v1/stocks/quote", {"data": "{not json", "content_type": "application/json"}, 400, "INVALID_REQUEST_BODY"),
        ("post", "/api/v1/stocks/quote", {"json": ["AAPL"]}, 400, "INVALID_REQUEST_BODY"),
        ("post", "/api/v1/stocks/quote", {"json": "AAPL"}, 400, "INVALID_REQUEST_BODY"),
        ("post", "/api/v1/stocks/quote", {}, 400, "INVALID_REQUEST_BODY"),
        ("post", "/api/v1/stocks/quote", {"json": {}}, 400, "INVALID_REQUEST_BODY"),
        ("post", "/api/v1/stocks/quote", {"json": {"symbol": "AAPL", "extra": 1}}, 400, "INVALID_REQUEST_BODY"),
        ("get", "/api/v1/_boom", {}, 500, "INTERNAL_SERVICE_ERROR"),
    ],
)
def test_failures_use_the_error_envelope(client, method, path, kwargs, status, code):
    response = getattr(client, method)(path, **kwargs)
    assert_error_envelope(response, status, code, path)


def test_405_names_the_allowed_methods(client):
    response = client.delete("/api/v1/stocks/AAPL/quote")
    assert "GET" in response.headers["Allow"]


def test_upstream_unreachable_is_503_with_retry_after_and_no_secret(client):
    response = client.get("/api/v1/stocks/AAPL/quote")
    body = assert_error_envelope(response, 503, "UPSTREAM_SERVICE_ERROR", "/api/v1/stocks/AAPL/quote")
    assert int(response.headers["Retry-After"]) > 0
    assert body["error"]["type"] == "upstream_service_error"


def test_a_sane_request_id_is_echoed(client):
    response = client.get("/nope", headers={"X-Request-ID": "abc-123_x.y"})
    assert response.headers["X-Request-ID"] == "abc-123_x.y"
    assert response.get_json()["metadata"]["request_id"] == "abc-123_x.y"


@pytest.mark.parametrize("offered", ["has space", "x" * 129, "semi;colon", ""])
def test_an_insane_request_id_is_replaced(client, offered):
    response = client.get("/api/v1/health", headers={"X-Request-ID": offered})
    generated = response.headers["X-Request-ID"]
    assert generated != offered and len(generated) == 32
    assert response.get_json()["metadata"]["request_id"] == generated


def test_each_request_gets_its_own_id(client):
    ids = {client.get("/api/v1/health").headers["X-Request-ID"] for _ in range(3)}
    assert len(ids) == 3


def test_no_credentials_starts_and_answers_503_not_configured(new_app):
    app = new_app({"ALPACA_API_KEY": None, "ALPACA_SECRET_KEY": None})
    client = app.test_client()
    assert client.get("/api/v1/health").status_code == 200
    for method, path, kwargs in [
        ("get", "/api/v1/stocks/AAPL/quote", {}),
        ("post", "/api/v1/stocks/quote", {"json": {"symbol": "AAPL"}}),
        ("post", "/api/v1/stocks/quotes/batch", {"json": {"symbols": ["AAPL"]}}),
        ("get", "/api/v1/stocks/quotes?symbols=AAPL", {}),
        ("get", "/api/v1/stocks/AAPL/bars", {}),
        ("get", "/api/v1/options/AAPL240216C00190000/quote", {}),
        ("post", "/api/v1/options/quote", {"json": {"option_symbol": "AAPL240216C00190000"}}),
        ("post", "/api/v1/options/quotes/batch", {"json": {"option_symbols": ["AAPL240216C00190000"]}}),
        ("get", "/api/v1/options/AAPL/chain", {}),
        ("post", "/api/v1/options/chain", {"json": {"underlying_symbol": "AAPL"}}),
    ]:
        response = getattr(client, method)(path, **kwargs)
        assert_error_envelope(response, 503, "UPSTREAM_NOT_CONFIGURED", path.split("?")[0])
        assert response.headers["Retry-After"]
    ready = client.get("/api/v1/health/ready")
    body = assert_error_envelope(ready, 503, "SERVICE_NOT_READY", "/api/v1/health/ready")
    assert body["error"]["details"]["checks"] == {"upstream_credentials": "missing", "database": "ok"}


# -- paths: repeated slashes are served, nothing ever answers a redirect ------------------------------


def request_at(client, method, path, **kwargs):
    """``path`` exactly as a server hands it over (the test client would read a leading ``//`` as a host)."""
    return getattr(client, method)("/", environ_overrides={"PATH_INFO": path}, **kwargs)


@pytest.mark.parametrize("path", ["/api/v1//stocks/AAPL/quote", "//api//v1//stocks///AAPL//quote", "/api/v1/stocks//AAPL/quote"])
def test_repeated_slashes_are_merged_and_served(make_app, path):
    client = make_app().test_client()
    plain = client.get("/api/v1/stocks/AAPL/quote")
    response = request_at(client, "get", path)
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.get_json()["data"] == plain.get_json()["data"]


@pytest.mark.parametrize("method, path", [
    ("get", "/api/v1//account"), ("get", "//api//v1//account"), ("post", "/api/v1//orders"),
    ("get", "/api/v1//stocks/AAPL/quote"), ("post", "//api/v1//stocks//AAPL//buy"),
])
def test_merged_paths_are_authenticated_like_any_other(make_app, sandbox, method, path):
    client = make_app().test_client()
    client.environ_base.pop("HTTP_X_API_KEY")
    response = request_at(client, method, path, json={"qty": "1", "type": "limit", "limit_price": "150"})
    assert_error_envelope(response, 401, "AUTHENTICATION_REQUIRED", "/" + "/".join(filter(None, path.split("/"))))
    assert sandbox.count() == 0


@pytest.mark.parametrize("path", [
    "/api/v1/health/", "/api/v1//health/", "/api/v1/stocks/AAPL/quote/", "/api/v1/docs/", "/api/v1/openapi.json/",
    "/metrics/", "/api/v1/orders/",
])
def test_a_trailing_slash_is_the_404_envelope_never_a_redirect(client, path):
    response = client.get(path)
    assert_error_envelope(response, 404, "NOT_FOUND", path.replace("//", "/"))


def test_a_route_ending_in_a_slash_asked_without_it_is_the_404_envelope_naming_it(app):
    @app.get("/api/v1/_folder/")
    def folder():
        return {"ok": True}

    client = app.test_client()
    for path in ("/api/v1/_folder/", "/api/v1//_folder//"):
        response = client.get(path)
        assert response.status_code == 200 and response.get_json() == {"ok": True}, path
    near_miss = client.get("/api/v1/_folder")  # Werkzeug's own answer: 308 with an HTML body
    body = assert_error_envelope(near_miss, 404, "NOT_FOUND", "/api/v1/_folder")
    assert body["error"]["details"] == {"location": "/api/v1/_folder/"} and "Location" not in near_miss.headers
