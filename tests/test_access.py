"""Access control: hashed keys, scopes, revocation, client rate limits, request limits, secret hygiene."""

import json
import logging

import pytest
from sqlalchemy import select, text

from opitios import extensions
from opitios.access import keys as key_store
from opitios.access.keys import KeyVerifier, create_key, matches
from opitios.models import ApiKey, ErrorLog
from tests.waiting import eventually

QUOTE = "/api/v1/stocks/AAPL/quote"


def anonymous(client):
    client.environ_base.pop("HTTP_X_API_KEY", None)
    return client


def with_key(client, key):
    client.environ_base["HTTP_X_API_KEY"] = key
    return client


# -- keys ---------------------------------------------------------------------------------------------


def test_a_created_key_is_shown_once_and_only_its_hash_is_stored(engine, database_url, runner):
    result = runner.invoke(args=["keys", "create", "--name", "desk 7", "--scopes", "read,trade"])
    assert result.exit_code == 0, result.output
    key = result.output.strip().splitlines()[-1]
    prefix = key.split("_")[1]
    with engine.connect() as connection:
        row = connection.execute(select(ApiKey).where(ApiKey.prefix == prefix)).one()
        everything = json.dumps([list(r) for r in connection.execute(text("SELECT * FROM api_keys")).all()], default=str)
    assert row.name == "desk 7" and row.scopes == ["read", "trade"] and row.revoked_at is None
    assert row.key_hash.startswith("scrypt$") and matches(key, row.key_hash) and not matches(key + "x", row.key_hash)
    assert key not in everything and key.split("_", 2)[2] not in everything
    with open(database_url.removeprefix("sqlite:///"), "rb") as raw:
        assert key.encode() not in raw.read()
    listed = runner.invoke(args=["keys", "list"]).output
    assert prefix in listed and "desk 7" in listed and key not in listed


def test_unknown_scopes_are_refused(runner):
    result = runner.invoke(args=["keys", "create", "--name", "x", "--scopes", "read,root"])
    assert result.exit_code != 0 and "scopes must be some of read, trade, admin" in result.output


# -- scopes -------------------------------------------------------------------------------------------


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def keys(engine):
    return {scopes: create_key(engine, scopes, scopes.split(","))[0] for scopes in ("read", "trade", "admin", "read,trade")}


def test_market_data_needs_a_key_with_read(app, keys):
    client = anonymous(app.test_client())
    response = client.get(QUOTE)
    assert response.status_code == 401 and response.headers["X-Error-Code"] == "AUTHENTICATION_REQUIRED"
    assert response.get_json()["error"]["type"] == "authentication_failed"
    assert with_key(client, keys["read"]).get(QUOTE).status_code == 200
    assert with_key(client, keys["admin"]).get(QUOTE).status_code == 200
    refused = with_key(client, keys["trade"]).get(QUOTE)
    assert refused.status_code == 403 and refused.headers["X-Error-Code"] == "INSUFFICIENT_PERMISSIONS"
    assert refused.get_json()["error"]["type"] == "authorization_failed"


@pytest.mark.parametrize("bad", ["opk_0000abcd_" + "A" * 43, "not-a-key", "opk_short"])
def test_an_invalid_key_is_401_invalid_api_key(app, bad):
    response = with_key(app.test_client(), bad).get(QUOTE)
    assert response.status_code == 401 and response.headers["X-Error-Code"] == "INVALID_API_KEY"


@pytest.mark.parametrize("path", [QUOTE, "/api/v1/account"])
@pytest.mark.parametrize("key, code", [
    (None, "AUTHENTICATION_REQUIRED"),
    ("opk_0000abcd_" + "A" * 43, "INVALID_API_KEY"),
    ("not-a-key", "INVALID_API_KEY"),
])
def test_a_401_carries_a_www_authenticate_challenge(app, path, key, code):
    client = anonymous(app.test_client()) if key is None else with_key(app.test_client(), key)
    response = client.get(path)
    assert response.status_code == 401 and response.headers["X-Error-Code"] == code
    # RFC 9110 11.6.1: the schemes that would work, Bearer (RFC 6750) first, then the X-API-Key header.
    bearer, api_key = response.headers["WWW-Authenticate"].split(", ApiKey ")
    assert bearer == 'Bearer realm="opitios"' + (', error="invalid_token"' if code == "INVALID_API_KEY" else "")
    assert api_key == 'realm="opitios", header="X-API-Key"'


def test_only_a_401_carries_a_challenge(app, keys):
    client = with_key(app.test_client(), keys["trade"])
    assert client.get(QUOTE).status_code == 403 and "WWW-Authenticate" not in client.get(QUOTE).headers
    assert "WWW-Authenticate" not in client.get("/api/v1/account").headers


def test_bearer_works_for_clients_that_can_only_set_authorization(app, keys):
    client = anonymous(app.test_client())
    assert client.get(QUOTE, headers={"Authorization": f"Bearer {keys['read']}"}).status_code == 200
    assert client.get(QUOTE, headers={"Authorization": "Bearer nope"}).headers["X-Error-Code"] == "INVALID_API_KEY"
    assert client.get(QUOTE, headers={"Authorization": f"Basic {keys['read']}"}).status_code == 401


def test_trading_needs_trade_whatever_public_market_data_says(app, keys, rows):
    rows.put("access", {"public_market_data": True})
    client = app.test_client()
    extensions.of(app).runtime.refresh()
    assert anonymous(client).get("/api/v1/account").status_code == 401
    assert with_key(client, keys["read"]).get("/api/v1/account").headers["X-Error-Code"] == "INSUFFICIENT_PERMISSIONS"
    assert with_key(client, keys["trade"]).get("/api/v1/account").status_code == 200
    assert with_key(client, keys["admin"]).get("/api/v1/account").status_code == 200


def test_public_market_data_opens_reads_but_not_to_a_bad_key(app, rows):
    rows.put("access", {"public_market_data": True})
    extensions.of(app).runtime.refresh()
    client = anonymous(app.test_client())
    assert client.get(QUOTE).status_code == 200
    assert with_key(client, "opk_bad").get(QUOTE).headers["X-Error-Code"] == "INVALID_API_KEY"


def test_operations_stay_open(app):
    client = anonymous(app.test_client())
    assert client.get("/api/v1/health").status_code == 200
    assert client.get("/api/v1/health/ready").status_code == 200


def test_a_revoked_key_is_refused_within_the_refresh_window(make_app, rows, engine, runner):
    rows.put("runtime", {"config_refresh_seconds": 0.3})
    key, prefix = create_key(engine, "to revoke", ["read"])
    client = with_key(make_app().test_client(), key)
    assert client.get(QUOTE).status_code == 200
    result = runner.invoke(args=["keys", "revoke", prefix])
    assert result.exit_code == 0 and prefix in result.output
    response = eventually(lambda: (r := client.get(QUOTE)).status_code == 401 and r, timeout=30)
    assert response.headers["X-Error-Code"] == "INVALID_API_KEY"
    assert runner.invoke(args=["keys", "revoke", prefix]).exit_code != 0  # already revoked
    with engine.connect() as connection:
        assert connection.execute(select(ApiKey.last_used_at).where(ApiKey.prefix == prefix)).scalar_one() is not None


def test_a_key_is_hashed_once_per_worker_and_checked_again_when_its_row_changes(engine, monkeypatch):
    """After each interval the row is read again (revocation, a new hash), but scrypt runs only for a new hash."""
    hashed = []
    scrypt = key_store._scrypt
    monkeypatch.setattr(key_store, "_scrypt", lambda *args: hashed.append(args[0]) or scrypt(*args))
    key, prefix = create_key(engine, "hashed once", ["read"])
    _, other = create_key(engine, "another", ["read"])
    now = [0.0]
    verifier = KeyVerifier(engine, lambda: 10.0, clock=lambda: now[0])
    hashed.clear()

    assert verifier.verify(key).name == "hashed once"
    now[0] += 11
    assert verifier.verify(key).name == "hashed once"
    assert hashed == [key]

    with engine.begin() as connection:  # the row now holds another key's hash
        new_hash = connection.execute(select(ApiKey.key_hash).where(ApiKey.prefix == other)).scalar_one()
        connection.execute(ApiKey.__table__.update().where(ApiKey.prefix == prefix).values(key_hash=new_hash))
    now[0] += 11
    assert verifier.verify(key) is None
    assert hashed == [key, key]


# -- client rate limits ----------------------------------------------------------------------------------


def limited(response):
    return response.status_code == 429 and response.headers["X-Error-Code"] == "RATE_LIMIT_EXCEEDED"


def test_a_keyed_client_is_limited_per_minute_with_the_headers(make_app, rows, keys):
    rows.put("rate_limits", {"keyed_per_minute": 3})
    client = with_key(make_app().test_client(), keys["read"])
    answers = [client.get(QUOTE) for _ in range(4)]
    assert [r.status_code for r in answers] == [200, 200, 200, 429]
    assert [r.headers["X-RateLimit-Remaining"] for r in answers[:3]] == ["2", "1", "0"]
    assert all(r.headers["X-RateLimit-Limit"] == "3" for r in answers)
    assert all(int(r.headers["X-RateLimit-Reset"]) > 1_700_000_000 for r in answers)
    assert "Retry-After" not in answers[0].headers
    assert limited(answers[3]) and 1 <= int(answers[3].headers["Retry-After"]) <= 61
    assert answers[3].get_json()["error"]["type"] == "rate_limit_exceeded"
    other = with_key(client, keys["admin"]).get(QUOTE)  # another key has its own count
    assert other.status_code == 200


def test_a_batch_of_n_symbols_costs_n(make_app, rows, keys):
    rows.put("rate_limits", {"keyed_per_minute": 5})
    client = with_key(make_app().test_client(), keys["read"])
    batch = client.post("/api/v1/stocks/quotes/batch", json={"symbols": ["AAPL", "MSFT", "SPY", "QQQ"]})
    assert batch.status_code == 200 and batch.headers["X-RateLimit-Remaining"] == "1"
    assert limited(client.get("/api/v1/stocks/quotes?symbols=AAPL,MSFT"))
    assert client.get(QUOTE).status_code == 200


def test_anonymous_clients_are_limited_per_address(make_app, rows):
    rows.put("access", {"public_market_data": True})
    rows.put("rate_limits", {"anonymous_per_hour": 2})
    client = anonymous(make_app().test_client())
    assert [client.get(QUOTE).status_code for _ in range(3)] == [200, 200, 429]
    # Without trusted proxies, X-Forwarded-For is not believed: still the same address.
    assert limited(client.get(QUOTE, headers={"X-Forwarded-For": "203.0.113.9"}))


def test_trusted_proxies_make_x_forwarded_for_the_client(make_app, rows):
    rows.put("access", {"public_market_data": True})
    rows.put("rate_limits", {"anonymous_per_hour": 1})
    client = anonymous(make_app(OPITIOS_TRUSTED_PROXIES="1").test_client())
    assert client.get(QUOTE, headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 200
    assert limited(client.get(QUOTE, headers={"X-Forwarded-For": "203.0.113.9"}))
    assert client.get(QUOTE, headers={"X-Forwarded-For": "198.51.100.4"}).status_code == 200


# -- request limits and headers --------------------------------------------------------------------------


def test_json_nesting_is_bounded(app):
    client = app.test_client()
    deep = client.post("/api/v1/stocks/quote", data='{"symbol": ' + "[" * 40 + "]" * 40 + "}", content_type="application/json")
    assert deep.status_code == 400 and "nests deeper" in deep.get_json()["error"]["message"]
    abyss = client.post("/api/v1/stocks/quote", data="[" * 60000, content_type="application/json")
    assert abyss.status_code == 400 and abyss.headers["X-Error-Code"] == "INVALID_REQUEST_BODY"


def test_an_oversized_body_is_413_before_it_is_read(app):
    response = app.test_client().post("/api/v1/stocks/quote", data=b"x" * (64 * 1024 + 1), content_type="application/json")
    assert response.status_code == 413 and response.headers["X-Error-Code"] == "REQUEST_SIZE_EXCEEDED"


@pytest.mark.parametrize("path", [QUOTE, "/nope", "/api/v1/health", "/api/v1/stocks/zz$/quote"])
def test_security_headers_on_every_response(app, path):
    response = app.test_client().get(path)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "X-RateLimit-Retry-After" not in response.headers


def test_cors_is_off_unless_configured(make_app):
    origin = {"Origin": "https://desk.example"}
    off = make_app().test_client().get(QUOTE, headers=origin)
    assert "Access-Control-Allow-Origin" not in off.headers
    on = make_app(OPITIOS_CORS_ORIGINS="https://desk.example").test_client().get(QUOTE, headers=origin)
    assert on.headers["Access-Control-Allow-Origin"] == "https://desk.example"
    assert "X-Cache-Status" in on.headers["Access-Control-Expose-Headers"]


# -- browser preflights ---------------------------------------------------------------------------------

DESK = "https://desk.example"
ORDER = "/api/v1/orders/0b4c5b48-7f0c-4a55-9d52-0f7e9b2c1d11"


def preflight(client, path, method="GET", origin=DESK):
    """What a browser sends, without credentials, before a cross-origin request that sets X-API-Key."""
    return client.options(path, headers={
        "Origin": origin, "Access-Control-Request-Method": method, "Access-Control-Request-Headers": "x-api-key,content-type",
    })


@pytest.mark.parametrize("path, method", [(QUOTE, "GET"), ("/api/v1/account", "GET"), ("/api/v1/orders", "POST"), (ORDER, "DELETE")])
def test_a_preflight_from_an_allowed_origin_is_answered_without_a_key(make_app, sandbox, path, method):
    client = anonymous(make_app(OPITIOS_CORS_ORIGINS=DESK).test_client())
    response = preflight(client, path, method)
    assert response.status_code == 204 and response.get_data() == b""
    assert response.headers["Access-Control-Allow-Origin"] == DESK
    assert method in response.headers["Access-Control-Allow-Methods"].split(", ")
    assert response.headers["Access-Control-Allow-Headers"].lower() == "content-type, x-api-key"
    assert int(response.headers["Access-Control-Max-Age"]) > 0
    assert "X-Error-Code" not in response.headers and "X-RateLimit-Remaining" not in response.headers
    assert sandbox.count() == 0


def test_a_preflight_from_another_origin_gets_no_cors_headers(make_app):
    client = anonymous(make_app(OPITIOS_CORS_ORIGINS=DESK).test_client())
    for path in (QUOTE, "/api/v1/account"):
        response = preflight(client, path, origin="https://elsewhere.example")
        assert not [name for name in response.headers.keys() if name.lower().startswith("access-control-")]
        assert response.status_code == 204  # no credentials were asked of it; the browser refuses the answer itself


def test_a_preflight_to_no_route_is_still_404(make_app):
    response = preflight(anonymous(make_app(OPITIOS_CORS_ORIGINS=DESK).test_client()), "/api/v1/nope")
    assert response.status_code == 404 and response.headers["X-Error-Code"] == "NOT_FOUND"


def test_preflights_are_not_counted_by_client_limits(make_app, rows, keys):
    rows.put("access", {"public_market_data": True})
    rows.put("rate_limits", {"keyed_per_minute": 2, "anonymous_per_hour": 1})
    client = anonymous(make_app(OPITIOS_CORS_ORIGINS=DESK).test_client())
    for _ in range(3):
        assert preflight(client, QUOTE).status_code == 204
        assert preflight(client, "/api/v1/account").status_code == 204
    first = client.get(QUOTE, headers={"Origin": DESK})  # the address's one request an hour is still there
    assert first.status_code == 200 and first.headers["X-RateLimit-Remaining"] == "0"
    keyed = with_key(client, keys["read,trade"])
    answers = [keyed.get("/api/v1/account", headers={"Origin": DESK}) for _ in range(2)]
    assert [a.status_code for a in answers] == [200, 200]
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["1", "0"]


# -- secret hygiene ----------------------------------------------------------------------------------------


def test_no_secret_anywhere_after_an_error_sweep(make_app, sandbox, keys, engine, caplog):
    caplog.set_level(logging.DEBUG)
    app = make_app(OPITIOS_UPSTREAM_TIMEOUT="0.3")
    client = with_key(app.test_client(), keys["read"])
    secrets_ = [sandbox.key, sandbox.secret, *keys.values()]
    bearer = f"Bearer {keys['read,trade']}"
    texts = []

    def ask(method, path, **kwargs):
        response = getattr(client, method)(path, headers={"Authorization": bearer}, **kwargs)
        texts.append(json.dumps(dict(response.headers)) + response.get_data(as_text=True))

    for method, path, kwargs in [
        ("get", "/nope?api_key=" + keys["admin"], {}),
        ("delete", QUOTE, {}),
        ("post", "/api/v1/stocks/quote", {"data": "{bad"}),
        ("post", "/api/v1/stocks/quote", {"data": "x" * 70000}),
        ("get", "/api/v1/stocks/zz$/quote", {}),
        ("get", "/api/v1/stocks/ZZZZ/quote", {}),
        ("get", "/api/v1/stocks/AAPL/bars?timeframe=2Min", {}),
        ("get", "/api/v1/health", {}),
        ("get", "/api/v1/health/ready", {}),
    ]:
        ask(method, path, **kwargs)
    for switches in ({"error_status": 401}, {"error_status": 429}, {"error_status": 500}, {"invalid_json": True}, {"latency_ms": 800}):
        sandbox.reset()
        sandbox.switches(path_prefix="/v2/stocks", **switches)
        ask("get", "/api/v1/stocks/MSFT/quote")
    sandbox.reset()
    with_key(client, "opk_0000abcd_" + "B" * 43)
    ask("get", QUOTE)
    with_key(client, keys["trade"])
    ask("get", QUOTE)
    extensions.of(app).error_log.flush()
    with engine.connect() as connection:
        rows = json.dumps([list(row) for row in connection.execute(select(ErrorLog)).all()], default=str)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert len(texts) == 16 and rows != "[]"
    for secret in secrets_:
        for where, haystack in (("responses", "\n".join(texts)), ("error_logs", rows), ("logs", logged)):
            assert secret not in haystack, f"a secret reached the {where}"
        assert secret.split("_", 2)[-1] not in "\n".join(texts) + rows + logged  # a key's secret part may hold "_"
