"""Trading through opitios: what the broker said, orders placed at most once, every refusal explained."""

import logging
import threading

import pytest

ORDERS = "/v2/orders"


def posted_orders(sandbox):
    """The bodies of the order placements the sandbox received."""
    return [call["body"] for call in sandbox.calls()["log"] if call["method"] == "POST" and call["path"] == ORDERS]


def broker_orders(sandbox):
    status, _, orders = sandbox.get(ORDERS, status="all", limit=500)
    assert status == 200
    return orders


def limit_order(**changes):
    return {"symbol": "AAPL", "qty": "1.5", "side": "buy", "type": "limit", "time_in_force": "day", "limit_price": "150.25", **changes}


def test_account_and_positions_are_the_brokers(client, sandbox):
    _, _, account = sandbox.get("/v2/account")
    response = client.get("/api/v1/account")
    assert response.status_code == 200
    assert response.get_json()["data"] == account
    assert response.headers["Cache-Control"] == "no-store" and "X-Cache-Status" not in response.headers
    metadata = response.get_json()["metadata"]
    assert metadata["data_source"] == "alpaca_trading" and metadata["cache"] == "none"
    _, _, positions = sandbox.get("/v2/positions")
    data = client.get("/api/v1/positions").get_json()["data"]
    assert data == {"positions": positions, "count": len(positions)}


def test_a_limit_order_goes_to_the_broker_exactly_and_comes_back_as_sent(client, sandbox):
    response = client.post("/api/v1/orders", json=limit_order(client_order_id="desk7-0001"))
    assert response.status_code == 200, response.get_json()
    order = response.get_json()["data"]
    assert (order["symbol"], order["qty"], order["limit_price"], order["client_order_id"]) == ("AAPL", "1.5", "150.25", "desk7-0001")
    assert order["status"] == "accepted"
    assert posted_orders(sandbox) == [{
        "symbol": "AAPL", "qty": "1.5", "side": "buy", "type": "limit", "time_in_force": "day",
        "limit_price": "150.25", "client_order_id": "desk7-0001",
    }]
    assert response.get_json()["metadata"]["idempotent_replay"] is False
    assert response.headers["Cache-Control"] == "no-store"


def test_list_get_and_cancel(client, sandbox):
    placed = client.post("/api/v1/orders", json=limit_order()).get_json()["data"]
    listed = client.get("/api/v1/orders?status=open").get_json()["data"]
    assert placed["id"] in [order["id"] for order in listed["orders"]] and listed["count"] == len(listed["orders"])
    one = client.get(f"/api/v1/orders/{placed['id']}").get_json()
    assert one["data"]["id"] == placed["id"] and one["metadata"]["data_timestamp"] == one["data"]["updated_at"]
    canceled = client.delete(f"/api/v1/orders/{placed['id']}")
    assert canceled.status_code == 200 and canceled.get_json()["data"]["status"] == "canceled"
    assert client.get("/api/v1/orders?status=closed").get_json()["data"]["orders"][0]["id"] == placed["id"]
    again = client.delete(f"/api/v1/orders/{placed['id']}")
    assert again.status_code == 422 and again.headers["X-Error-Code"] == "ORDER_REJECTED"


def test_an_order_id_must_be_one_and_known(client, sandbox):
    bad = client.get("/api/v1/orders/not-a-uuid")
    assert bad.status_code == 400 and bad.headers["X-Error-Code"] == "INVALID_PARAMETER" and sandbox.count() == 0
    for method in ("get", "delete"):
        unknown = getattr(client, method)("/api/v1/orders/0b4c5b48-7f0c-4a55-9d52-0f7e9b2c1d11")
        assert unknown.status_code == 404 and unknown.headers["X-Error-Code"] == "ORDER_NOT_FOUND"


def test_without_a_client_order_id_opitios_makes_one_and_returns_it(client, sandbox):
    order = client.post("/api/v1/orders", json=limit_order()).get_json()["data"]
    assert order["client_order_id"].startswith("opitios-")
    assert posted_orders(sandbox)[0]["client_order_id"] == order["client_order_id"]


@pytest.mark.parametrize(
    "path, body, symbol, side",
    [
        ("/api/v1/stocks/order", limit_order(symbol="msft", qty="2"), "MSFT", "buy"),
        ("/api/v1/stocks/AAPL/buy", {"qty": "1", "type": "limit", "limit_price": "150"}, "AAPL", "buy"),
        ("/api/v1/stocks/AAPL/sell", {"qty": "1", "type": "limit", "limit_price": "250"}, "AAPL", "sell"),
    ],
)
def test_the_original_services_order_routes(client, sandbox, path, body, symbol, side):
    response = client.post(path, json=body)
    assert response.status_code == 200, response.get_json()
    order = response.get_json()["data"]
    assert (order["symbol"], order["side"]) == (symbol, side)
    assert posted_orders(sandbox)[0]["symbol"] == symbol


def test_an_option_order(client, sandbox, catalog):
    contract = catalog["options"]["AAPL"][0]
    body = {"option_symbol": contract.lower(), "qty": "2", "side": "buy", "type": "limit", "limit_price": "1.05"}
    response = client.post("/api/v1/options/order", json=body)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["data"]["symbol"] == contract and response.get_json()["data"]["asset_class"] == "us_option"
    assert client.post("/api/v1/orders", json={**body, "qty": "1"}).status_code == 200  # /orders takes options too


@pytest.mark.parametrize(
    "path, body, code",
    [
        ("/api/v1/orders", limit_order(qty=None), "INVALID_REQUEST_BODY"),
        ("/api/v1/orders", limit_order(qty="-1"), "INVALID_REQUEST_BODY"),
        ("/api/v1/orders", limit_order(qty="abc"), "INVALID_REQUEST_BODY"),
        ("/api/v1/orders", limit_order(side="hold"), "INVALID_REQUEST_BODY"),
        ("/api/v1/orders", limit_order(type="trailing"), "INVALID_REQUEST_BODY"),
        ("/api/v1/orders", limit_order(limit_price=None), "INVALID_REQUEST_BODY"),
        ("/api/v1/orders", limit_order(type="market"), "INVALID_REQUEST_BODY"),
        ("/api/v1/orders", limit_order(type="stop"), "INVALID_REQUEST_BODY"),
        ("/api/v1/orders", limit_order(time_in_force="gtc"), "INVALID_REQUEST_BODY"),
        ("/api/v1/orders", limit_order(option_symbol="AAPL240216C00190000"), "INVALID_REQUEST_BODY"),
        ("/api/v1/orders", limit_order(symbol="b$d"), "INVALID_SYMBOL_FORMAT"),
        ("/api/v1/orders", limit_order(client_order_id="x" * 129), "INVALID_REQUEST_BODY"),
        ("/api/v1/orders", limit_order(notional="100"), "INVALID_REQUEST_BODY"),
        ("/api/v1/stocks/order", limit_order(symbol="AAPL240216C00190000"), "INVALID_SYMBOL_FORMAT"),
        ("/api/v1/options/order", limit_order(symbol=None, option_symbol="AAPL240216C00190000", qty="1.5"), "INVALID_REQUEST_BODY"),
        ("/api/v1/options/order", limit_order(), "INVALID_SYMBOL_FORMAT"),
        ("/api/v1/stocks/AAPL/buy", {"qty": "1", "side": "sell"}, "INVALID_REQUEST_BODY"),
    ],
)
def test_bad_orders_are_refused_before_the_broker_sees_them(client, sandbox, path, body, code):
    body = {name: value for name, value in body.items() if value is not None}
    response = client.post(path, json=body)
    assert response.status_code == 400 and response.headers["X-Error-Code"] == code
    assert sandbox.count() == 0


def test_the_same_client_order_id_never_places_a_second_order(client, sandbox):
    first = client.post("/api/v1/orders", json=limit_order(client_order_id="once-only"))
    second = client.post("/api/v1/orders", json=limit_order(client_order_id="once-only"))
    assert first.status_code == second.status_code == 200
    assert second.get_json()["data"]["id"] == first.get_json()["data"]["id"]
    assert second.get_json()["metadata"]["idempotent_replay"] is True
    assert len(broker_orders(sandbox)) == 1


def test_an_idempotency_key_header_is_the_client_order_id(client, sandbox):
    headers = {"Idempotency-Key": "retry-safe-42"}
    first = client.post("/api/v1/orders", json=limit_order(), headers=headers).get_json()["data"]
    second = client.post("/api/v1/orders", json=limit_order(), headers=headers).get_json()["data"]
    assert first["client_order_id"] == "retry-safe-42" and second["id"] == first["id"]
    clash = client.post("/api/v1/orders", json=limit_order(client_order_id="other"), headers=headers)
    assert clash.status_code == 400
    assert len(broker_orders(sandbox)) == 1


@pytest.mark.parametrize("value", ["", "   ", "x" * 129, "two words", "semi;colon", "caf\u00e9", "a,b"])
@pytest.mark.parametrize("path", ["/api/v1/orders", "/api/v1/stocks/AAPL/buy"])
def test_an_empty_or_malformed_idempotency_key_is_400_and_places_nothing(client, sandbox, value, path):
    body = limit_order() if path == "/api/v1/orders" else {"qty": "1", "type": "limit", "limit_price": "150"}
    for _ in range(2):  # a retry with the same header: still refused, still nothing placed
        response = client.post(path, json=body, headers={"Idempotency-Key": value})
        assert response.status_code == 400 and response.headers["X-Error-Code"] == "INVALID_PARAMETER"
        error = response.get_json()["error"]
        assert error["details"] == {"header": "Idempotency-Key"} and "1-128" in error["message"]
    assert posted_orders(sandbox) == []


def test_an_idempotency_key_is_read_without_surrounding_whitespace(client, sandbox):
    order = client.post("/api/v1/orders", json=limit_order(), headers={"Idempotency-Key": "  desk7:2024.06-03_a  "})
    assert order.status_code == 200 and order.get_json()["data"]["client_order_id"] == "desk7:2024.06-03_a"
    longest = client.post("/api/v1/orders", json=limit_order(), headers={"Idempotency-Key": "k" * 128})
    assert longest.status_code == 200 and len(posted_orders(sandbox)) == 2


def test_concurrent_identical_orders_make_one(make_app, sandbox):
    sandbox.switches(latency_ms=200, path_prefix=ORDERS)
    app = make_app()
    answers = []

    def post():
        answers.append(app.test_client().post("/api/v1/orders", json=limit_order(client_order_id="racing")))

    threads = [threading.Thread(target=post) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [a.status_code for a in answers] == [200] * 20, [a.get_json() for a in answers if a.status_code != 200]
    assert len({a.get_json()["data"]["id"] for a in answers}) == 1
    assert sum(1 for a in answers if a.get_json()["metadata"]["idempotent_replay"] is False) == 1
    sandbox.switches(latency_ms=0)
    assert len(broker_orders(sandbox)) == 1
    # Requests that met the claim read the order back; one arriving after it was released may post
    # again and be told by the broker that the id is taken, which is still no second order.
    assert len(posted_orders(sandbox)) <= 3


@pytest.mark.parametrize(
    "body, market, reason",
    [
        (limit_order(qty="100000", limit_price="190"), "open", "insufficient buying power"),
        ({"symbol": "AAPL", "qty": "1", "side": "buy", "type": "market"}, "closed", "market is closed"),
        (limit_order(symbol="ZZZZ"), "open", "not found"),
    ],
)
def test_broker_rejections_are_422_with_the_brokers_reason(client, sandbox, body, market, reason):
    sandbox.switches(market=market)
    response = client.post("/api/v1/orders", json=body)
    assert response.status_code == 422 and response.headers["X-Error-Code"] == "ORDER_REJECTED"
    error = response.get_json()["error"]
    assert error["type"] == "business_rule_violation"
    assert reason in error["message"] and reason in error["details"]["upstream_message"]


def test_a_market_order_fills_when_the_market_is_open(client, sandbox):
    sandbox.switches(market="open")
    order = client.post("/api/v1/orders", json={"symbol": "AAPL", "qty": "2", "side": "buy"}).get_json()["data"]
    assert order["status"] == "filled" and order["filled_qty"] == "2"
    filled = client.delete(f"/api/v1/orders/{order['id']}")
    assert filled.status_code == 422 and "filled" in filled.get_json()["error"]["message"]


def test_a_timeout_on_placement_is_504_with_the_client_order_id_and_no_retry(make_app, sandbox):
    client = make_app(OPITIOS_UPSTREAM_TIMEOUT="0.3").test_client()
    sandbox.switches(latency_ms=1000, path_prefix=ORDERS)
    response = client.post("/api/v1/orders", json=limit_order(client_order_id="slow-1"))
    assert response.status_code == 504 and response.headers["X-Error-Code"] == "UPSTREAM_TIMEOUT"
    assert response.get_json()["error"]["details"]["client_order_id"] == "slow-1"
    assert sum(1 for call in sandbox.calls()["log"] if call["method"] == "POST") == 1


def test_a_broker_outage_on_placement_is_not_retried(client, sandbox):
    sandbox.switches(error_status=503, path_prefix=ORDERS)
    response = client.post("/api/v1/orders", json=limit_order())
    assert response.status_code == 503
    assert sum(1 for call in sandbox.calls()["log"] if call["method"] == "POST") == 1


def test_a_read_only_key_cannot_trade(make_app, engine):
    from opitios.access.keys import create_key

    key, _ = create_key(engine, "reader", ["read"])
    client = make_app().test_client()
    client.environ_base["HTTP_X_API_KEY"] = key
    for method, path in (("get", "/api/v1/account"), ("post", "/api/v1/orders"), ("delete", "/api/v1/orders/x")):
        response = getattr(client, method)(path, json=limit_order())
        assert response.status_code == 403 and response.headers["X-Error-Code"] == "INSUFFICIENT_PERMISSIONS"


def test_every_order_request_leaves_an_audit_line_without_the_key(client, api_key, caplog):
    caplog.set_level(logging.INFO, logger="opitios.audit")
    placed = client.post("/api/v1/orders", json=limit_order(client_order_id="audited"), headers={"X-Request-ID": "audit-1"})
    rejected = client.post("/api/v1/orders", json=limit_order(symbol="ZZZZ", client_order_id="audited-2"), headers={"X-Request-ID": "audit-2"})
    assert placed.status_code == 200 and rejected.status_code == 422
    lines = [record.getMessage() for record in caplog.records if record.name == "opitios.audit"]
    assert len(lines) == 2
    prefix = api_key.split("_")[1]
    assert all(f"key={prefix}" in line and api_key not in line for line in lines)
    assert "request_id=audit-1" in lines[0] and "symbol=AAPL side=buy qty=1.5 type=limit client_order_id=audited outcome=placed" in lines[0]
    assert "request_id=audit-2" in lines[1] and "outcome=ORDER_REJECTED" in lines[1]
