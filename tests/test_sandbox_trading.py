"""The sandbox's trading v2: account, positions and orders parse with alpaca-py and behave like Alpaca's."""
import re
import threading
import uuid
from decimal import Decimal

import pytest
import requests
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import (
    AssetClass,
    AssetExchange,
    OrderClass,
    OrderSide,
    OrderStatus,
    OrderType,
    PositionSide,
    QueryOrderStatus,
    TimeInForce,
)
from alpaca.trading.models import Order, Position, TradeAccount
from alpaca.trading.requests import GetOrdersRequest, LimitOrderRequest, MarketOrderRequest, StopOrderRequest

NOW = "2024-06-05T18:00:00.123Z"  # a Wednesday, 14:00 in New York
STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
ORDER_KEYS = [
    "id", "client_order_id", "created_at", "updated_at", "submitted_at", "filled_at", "expired_at",
    "canceled_at", "failed_at", "replaced_at", "replaced_by", "replaces", "asset_id", "symbol", "asset_class",
    "notional", "qty", "filled_qty", "filled_avg_price", "order_class", "order_type", "type", "side",
    "position_intent", "time_in_force", "limit_price", "stop_price", "status", "extended_hours", "legs",
    "trail_percent", "trail_price", "hwm", "subtag", "source", "expires_at",
]
POSITION_KEYS = {
    "asset_id", "symbol", "exchange", "asset_class", "asset_marginable", "qty", "qty_available",
    "avg_entry_price", "side", "market_value", "cost_basis", "unrealized_pl", "unrealized_plpc",
    "unrealized_intraday_pl", "unrealized_intraday_plpc", "current_price", "lastday_price", "change_today",
}


@pytest.fixture
def broker(sandbox):
    sandbox.switches(now=NOW, market="open")
    return sandbox


def trading_client(server) -> TradingClient:
    client = TradingClient(server.key, server.secret, paper=True, raw_data=False, url_override=server.url)
    client._retry = 0  # no 3 s sleeps on 429/504
    return client


def send(server, method, path, body=None, **params):
    """A raw authenticated request: (status, text, JSON or None)."""
    auth = {"APCA-API-KEY-ID": server.key, "APCA-API-SECRET-KEY": server.secret}
    response = requests.request(method, server.url + path, json=body, params=params, headers=auth, timeout=10)
    try:
        parsed = response.json()
    except ValueError:
        parsed = None
    return response.status_code, response.text, parsed


def order(**fields):
    """A raw order body: one AAPL share bought at market, unless ``fields`` say otherwise."""
    return {"symbol": "AAPL", "qty": "1", "side": "buy", "type": "market", "time_in_force": "day", **fields}


def market(symbol, qty, side=OrderSide.BUY, **fields):
    return MarketOrderRequest(symbol=symbol, qty=qty, side=side, time_in_force=TimeInForce.DAY, **fields)


def limit(symbol, qty, price, side=OrderSide.BUY, tif=TimeInForce.DAY, **fields):
    return LimitOrderRequest(symbol=symbol, qty=qty, side=side, time_in_force=tif, limit_price=price,
                             **fields)


def ids(client, status=QueryOrderStatus.ALL, **filters):
    """The ids get_orders answers, in its order."""
    return [o.id for o in client.get_orders(GetOrdersRequest(status=status, **filters))]


def aapl_quote(server):
    quote = server.get("/v2/stocks/quotes/latest", symbols="AAPL")[2]["quotes"]["AAPL"]
    return Decimal(str(quote["bp"])), Decimal(str(quote["ap"]))


def refused(call, status, code, message):
    with pytest.raises(APIError) as error:
        call()
    assert (error.value.status_code, error.value.code, error.value.message) == (status, code, message)


# --- account and positions ---------------------------------------------------------------------------


def test_seeded_account_and_positions(broker):
    client = trading_client(broker)
    account = client.get_account()
    assert isinstance(account, TradeAccount)
    assert (account.buying_power, account.options_buying_power) == ("200000", "100000")
    cash, equity = Decimal(account.cash), Decimal(account.equity)
    assert equity == cash + Decimal(account.long_market_value) + Decimal(account.short_market_value)
    assert account.portfolio_value == account.equity
    assert 2 * (equity - Decimal(account.initial_margin)) == Decimal(account.buying_power)

    positions = client.get_all_positions()
    assert all(isinstance(p, Position) for p in positions)
    by_symbol = {p.symbol: p for p in positions}
    option = next(p for p in positions if p.asset_class == AssetClass.US_OPTION)
    assert set(by_symbol) == {"AAPL", "TSLA", option.symbol}
    assert option.symbol in broker.catalog()["options"]["AAPL"]
    assert (option.exchange, option.qty, option.side) == (AssetExchange.EMPTY, "2", PositionSide.LONG)
    aapl, tsla = by_symbol["AAPL"], by_symbol["TSLA"]
    assert (aapl.qty, aapl.side, aapl.avg_entry_price, aapl.cost_basis) == ("10", PositionSide.LONG, "185.5",
                                                                           "1855.00")
    assert aapl.exchange == AssetExchange.NASDAQ and aapl.asset_class == AssetClass.US_EQUITY
    assert (tsla.qty, tsla.side) == ("-5", PositionSide.SHORT) and Decimal(tsla.market_value) < 0
    assert Decimal(aapl.market_value) == 10 * Decimal(aapl.current_price)
    assert Decimal(aapl.unrealized_pl) == Decimal(aapl.market_value) - Decimal(aapl.cost_basis)
    assert Decimal(option.market_value) == 2 * 100 * Decimal(option.current_price)
    assert sum(Decimal(p.market_value) for p in positions) == \
        Decimal(account.long_market_value) + Decimal(account.short_market_value)

    raw = broker.get("/v2/positions")[2]
    for body in raw:
        assert set(body) == POSITION_KEYS
        assert all(isinstance(v, str) for k, v in body.items() if k != "asset_marginable")
    assert client.get_open_position("AAPL") == aapl
    assert client.get_open_position(aapl.asset_id) == aapl
    refused(lambda: client.get_open_position("MSFT"), 404, 40410000, "position does not exist")


# --- placing orders ------------------------------------------------------------------------------------


def test_market_order_fills_at_the_ask_while_open(broker):
    client = trading_client(broker)
    before = client.get_account()
    bid, ask = aapl_quote(broker)
    placed = client.submit_order(market("AAPL", 2, client_order_id="m-1"))
    assert isinstance(placed, Order)
    assert (placed.status, placed.order_class, placed.type) == (OrderStatus.FILLED, OrderClass.SIMPLE,
                                                                 OrderType.MARKET)
    assert (placed.qty, placed.filled_qty, placed.filled_avg_price) == ("2", "2", str(ask))
    assert placed.filled_at is not None and placed.client_order_id == "m-1"
    assert client.get_open_position("AAPL").qty == "12"
    after = client.get_account()
    assert Decimal(before.cash) - Decimal(after.cash) == 2 * ask

    covered = client.submit_order(market("TSLA", 5))
    assert covered.status == OrderStatus.FILLED and covered.position_intent.value == "buy_to_close"
    assert "TSLA" not in {p.symbol for p in client.get_all_positions()}  # the short is covered
    _, _, sell = send(broker, "POST", "/v2/orders", order(side="sell", qty=3))
    assert sell["filled_avg_price"] == str(bid) and sell["position_intent"] == "sell_to_close"
    assert client.get_open_position("AAPL").qty == "9"

    status, _, raw = send(broker, "GET", f"/v2/orders/{placed.id}")
    assert status == 200 and list(raw) == ORDER_KEYS
    assert raw["order_class"] == "" and raw["asset_class"] == "us_equity" and uuid.UUID(raw["id"])
    for key in ("created_at", "updated_at", "submitted_at", "filled_at", "expires_at"):
        assert STAMP.fullmatch(raw[key])
    assert raw["created_at"].startswith("2024-06-05T18:00:00.12") and raw["expires_at"] == \
        "2024-06-05T20:00:00.000000Z"


def test_limit_order_rests_and_is_found(broker):
    client = trading_client(broker)
    placed = client.submit_order(limit("MSFT", 3, 400.5, tif=TimeInForce.GTC, client_order_id="lim-1"))
    assert (placed.status, placed.limit_price, placed.filled_qty, placed.filled_avg_price) == \
        (OrderStatus.ACCEPTED, "400.5", "0", None)
    assert client.get_order_by_id(placed.id).status == OrderStatus.NEW
    assert client.get_order_by_client_id("lim-1").id == placed.id
    assert Decimal(client.get_account().buying_power) == 200000 - 3 * Decimal("400.5")  # reserved
    stop = client.submit_order(StopOrderRequest(symbol="AAPL", qty=1, side=OrderSide.SELL,
                                                time_in_force=TimeInForce.DAY, stop_price=150))
    assert stop.status == OrderStatus.ACCEPTED and stop.stop_price == "150"
    assert client.get_open_position("AAPL").qty_available == "9"  # one share promised to the stop
    filled = client.submit_order(market("KO", 1))

    assert ids(client, QueryOrderStatus.OPEN) == [stop.id, placed.id]  # newest first
    assert [o.id for o in client.get_orders()] == [stop.id, placed.id]  # open is the default
    assert ids(client, QueryOrderStatus.CLOSED) == [filled.id]
    assert ids(client, direction="asc") == [placed.id, stop.id, filled.id]
    assert ids(client, limit=1) == [filled.id]
    assert ids(client, symbols=["MSFT", "KO"]) == [filled.id, placed.id]
    assert ids(client, side=OrderSide.SELL) == [stop.id]
    assert ids(client, after=placed.submitted_at, until=filled.submitted_at) == [stop.id]
    invalid = {"code": 40010001, "message": "invalid status"}
    assert send(broker, "GET", "/v2/orders", status="done")[::2] == (422, invalid)


def test_option_orders(broker):
    client = trading_client(broker)
    contract = broker.catalog()["options"]["SPY"][0]
    quote = broker.get("/v1beta1/options/quotes/latest", symbols=contract)[2]["quotes"][contract]
    placed = client.submit_order(market(contract, 1))
    assert placed.asset_class == AssetClass.US_OPTION and placed.status == OrderStatus.FILLED
    assert Decimal(placed.filled_avg_price) == Decimal(str(quote["ap"]))
    held = client.get_open_position(contract)
    assert (held.qty, held.exchange, held.asset_class) == ("1", AssetExchange.EMPTY, AssetClass.US_OPTION)
    status, _, body = send(broker, "POST", "/v2/orders", order(symbol=contract, qty="1.5"))
    assert (status, body) == (422, {"code": 40010001, "message": "qty must be integer for options"})


def test_fractional_qty_strings_stay_exact(broker):
    status, _, body = send(broker, "POST", "/v2/orders", order(qty="1.5", client_order_id="frac"))
    assert status == 200 and (body["qty"], body["filled_qty"], body["status"]) == ("1.5", "1.5", "filled")
    status, _, resting = send(broker, "POST", "/v2/orders",
                              order(qty=0.25, type="limit", limit_price="189.99"))
    assert status == 200
    assert (resting["qty"], resting["limit_price"], resting["status"]) == ("0.25", "189.99", "accepted")
    posts = [call for call in broker.calls()["log"] if call["method"] == "POST"]
    assert [call["body"]["qty"] for call in posts] == ["1.5", 0.25]
    assert posts[0]["body"] == order(qty="1.5", client_order_id="frac") and posts[0]["status"] == 200
    assert trading_client(broker).get_open_position("AAPL").qty == "11.5"


# --- canceling -----------------------------------------------------------------------------------------


def test_cancel_one_and_all(broker):
    client = trading_client(broker)
    resting = [client.submit_order(limit("AAPL", 1, 150 + i)) for i in range(3)]
    filled = client.submit_order(market("AAPL", 1))
    assert client.cancel_order_by_id(resting[0].id) is None
    canceled = client.get_order_by_id(resting[0].id)
    assert canceled.status == OrderStatus.CANCELED and canceled.canceled_at is not None
    status, text, _ = send(broker, "DELETE", f"/v2/orders/{resting[1].id}")
    assert (status, text) == (204, "")
    refused(lambda: client.cancel_order_by_id(resting[0].id), 422, 42210000,
            'order is already in "canceled" state')
    refused(lambda: client.cancel_order_by_id(filled.id), 422, 42210000, 'order is already in "filled" state')
    refused(lambda: client.cancel_order_by_id(uuid.uuid4()), 404, 40410000, "order not found")

    more = client.submit_order(limit("KO", 1, 60))
    results = client.cancel_orders()
    assert sorted((str(r.id), r.status, r.body) for r in results) == \
        sorted((str(o.id), 200, None) for o in (resting[2], more))
    assert client.get_orders() == []
    assert send(broker, "DELETE", "/v2/orders")[:2] == (207, "[]")


# --- refusals ------------------------------------------------------------------------------------------


def test_refusals_through_the_sdk(broker):
    client = trading_client(broker)
    once = market("AAPL", 1, client_order_id="dup")
    client.submit_order(once)
    refused(lambda: client.submit_order(once), 422, 40010001, "client_order_id must be unique")
    too_big = limit("AAPL", 10000, 190)
    refused(lambda: client.submit_order(too_big), 403, 40310000, "insufficient buying power")
    refused(lambda: client.post("/orders", order(type="limit")), 422, 40010001,
            "limit_price is required for limit orders")
    refused(lambda: client.submit_order(market("ZZZZ", 1)), 422, 40010001, 'asset "ZZZZ" not found')
    refused(lambda: client.get_order_by_id(uuid.uuid4()), 404, 40410000, "order not found")
    refused(lambda: client.get_order_by_client_id("never"), 404, 40410000, "order not found")
    broker.switches(market="closed")
    refused(lambda: client.submit_order(market("AAPL", 1)), 403, 40310000,
            "market orders are not accepted while the market is closed")
    assert client.submit_order(limit("AAPL", 1, 180)).status == OrderStatus.ACCEPTED  # limit orders still go
    assert len(ids(client)) == 2  # refusals leave nothing behind


@pytest.mark.parametrize("fields, status, message", [
    ({"qty": None}, 422, "qty or notional is required"),
    ({"qty": "abc"}, 422, "invalid qty"),
    ({"qty": "0"}, 422, "qty must be > 0"),
    ({"side": "hold"}, 422, "invalid side"),
    ({"type": "trailing"}, 422, "invalid order type"),
    ({"time_in_force": "week"}, 422, "invalid time_in_force"),
    ({"type": "stop"}, 422, "stop_price is required for stop orders"),
    ({"type": "stop_limit", "limit_price": "190"}, 422, "stop_price is required for stop orders"),
    ({"client_order_id": "x" * 129}, 422, "client_order_id must be no more than 128 characters"),
    ({"symbol": "ZZZZ"}, 422, 'asset "ZZZZ" not found'),
    ({"symbol": None}, 422, "symbol is required"),
    ({"qty": "1.5", "time_in_force": "gtc"}, 422, "fractional orders must be DAY orders"),
    ({"extended_hours": True}, 422, "extended hours order must be DAY limit orders"),
    ({"qty": "100000"}, 403, "insufficient buying power"),
])
def test_order_validation(broker, fields, status, message):
    body = {name: value for name, value in order(**fields).items() if value is not None}
    answer = send(broker, "POST", "/v2/orders", body)
    assert answer[::2] == (status, {"code": 40010001 if status == 422 else 40310000, "message": message})
    assert send(broker, "GET", "/v2/orders", status="all")[2] == []


def test_malformed_requests(broker):
    auth = {"APCA-API-KEY-ID": broker.key, "APCA-API-SECRET-KEY": broker.secret}
    response = requests.post(broker.url + "/v2/orders", data=b"{not json", headers=auth, timeout=5)
    assert response.status_code == 400
    assert response.json() == {"code": 40010000, "message": "request body format is invalid"}
    assert broker.calls()["log"][-1]["body"] == "{not json"
    assert send(broker, "GET", "/v2/orders/not-a-uuid")[::2] == \
        (422, {"code": 40010001, "message": "invalid order id"})
    assert send(broker, "POST", "/v2/positions")[::2] == \
        (405, {"code": 40510000, "message": "method not allowed"})
    assert send(broker, "POST", "/v2/stocks/bars")[::2] == (405, {"message": "method not allowed"})


def test_one_client_order_id_under_concurrency(broker):
    start = threading.Barrier(20)
    answers = []

    def place():
        start.wait()
        answers.append(send(broker, "POST", "/v2/orders", order(type="limit", limit_price="100",
                                                                 client_order_id="race")))

    threads = [threading.Thread(target=place) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(status for status, _, _ in answers) == [200] + [422] * 19
    duplicate = {"code": 40010001, "message": "client_order_id must be unique"}
    assert all(body == duplicate for status, _, body in answers if status == 422)
    created = send(broker, "GET", "/v2/orders", status="all")[2]
    assert [o["client_order_id"] for o in created] == ["race"]
    assert broker.count("/v2/orders") == 21


# --- switches, counters and reset apply to trading too -----------------------------------------------------


def test_switches_counters_and_reset(broker):
    client = trading_client(broker)
    broker.switches(error_status=503, error_count=1, path_prefix="/v2/orders")
    refused(lambda: client.submit_order(market("AAPL", 1)), 503, 50310000, "service unavailable")
    assert ids(client) == []  # the fault answered before any order was made
    placed = client.submit_order(limit("AAPL", 1, 180))
    client.get_order_by_id(placed.id)
    client.get_all_positions()
    by_path = broker.calls()["by_path"]
    assert (by_path["/v2/orders"], by_path[f"/v2/orders/{placed.id}"], by_path["/v2/positions"]) == (3, 1, 1)
    client.submit_order(market("NVDA", 1))
    broker.reset()
    broker.switches(now=NOW)
    assert ids(client) == []
    assert "NVDA" not in {p.symbol for p in client.get_all_positions()}
    assert client.get_open_position("AAPL").qty == "10"
    assert client.get_account().buying_power == "200000"
