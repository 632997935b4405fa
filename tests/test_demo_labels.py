"""Under OPITIOS_DEMO every data answer says it is the offline sandbox's synthetic data, never real time."""

import pytest

DEMO = {"data_source": "sandbox_synthetic", "provider": "sandbox"}
REAL_SOURCES = {"alpaca_real_time", "alpaca_options_real_time", "alpaca_options_chain", "alpaca_historical", "alpaca_trading"}


def regular_contract(catalog):
    specials = set(catalog["option_special"].values())
    return next(symbol for symbol in catalog["options"]["AAPL"] if symbol not in specials)


def requests_of_every_kind(contract):
    """(method, path, body): each market-data route, and the trading routes that only read."""
    return [
        ("GET", "/api/v1/stocks/AAPL/quote", None),
        ("POST", "/api/v1/stocks/quote", {"symbol": "MSFT"}),
        ("POST", "/api/v1/stocks/quotes/batch", {"symbols": ["AAPL", "ZZZZ"]}),
        ("GET", "/api/v1/stocks/quotes?symbols=SPY,QQQ", None),
        ("GET", "/api/v1/stocks/AAPL/bars?timeframe=5Min&start=2024-06-03T13:30:00Z&limit=2", None),
        ("GET", f"/api/v1/options/{contract}/quote", None),
        ("POST", "/api/v1/options/quote", {"option_symbol": contract}),
        ("POST", "/api/v1/options/quotes/batch", {"option_symbols": [contract]}),
        ("GET", "/api/v1/options/AAPL/chain?option_type=call&limit=2", None),
        ("POST", "/api/v1/options/chain", {"underlying_symbol": "AAPL", "option_type": "put"}),
        ("GET", "/api/v1/account", None),
        ("GET", "/api/v1/positions", None),
        ("GET", "/api/v1/orders?status=all", None),
    ]


def test_every_demo_answer_is_labelled_synthetic(make_app, catalog):
    client = make_app(OPITIOS_DEMO="true").test_client()

    for method, path, body in requests_of_every_kind(regular_contract(catalog)):
        response = client.open(path, method=method, json=body)
        assert response.status_code == 200, (path, response.get_json())
        metadata = response.get_json()["metadata"]
        assert {name: metadata[name] for name in DEMO} == DEMO, path
        assert response.headers["X-Data-Source"] == DEMO["data_source"], path
        assert "real_time" not in response.get_data(as_text=True), path


def test_an_order_placed_in_the_demo_is_labelled_synthetic(make_app):
    client = make_app(OPITIOS_DEMO="true").test_client()
    order = {"symbol": "AAPL", "qty": "1", "side": "buy", "type": "limit", "limit_price": "100", "client_order_id": "demo-label"}

    placed = client.post("/api/v1/orders", json=order)
    replayed = client.post("/api/v1/orders", json=order)

    for response in (placed, replayed):
        assert response.status_code == 200, response.get_json()
        assert {name: response.get_json()["metadata"][name] for name in DEMO} == DEMO


@pytest.mark.parametrize("demo", [None, "false"])
def test_outside_the_demo_answers_name_the_real_source(make_app, demo):
    client = make_app(OPITIOS_DEMO=demo).test_client()

    quote = client.get("/api/v1/stocks/AAPL/quote")
    account = client.get("/api/v1/account")

    assert quote.get_json()["metadata"]["data_source"] == quote.headers["X-Data-Source"] == "alpaca_real_time"
    assert account.get_json()["metadata"]["data_source"] == "alpaca_trading"
    assert {quote.get_json()["metadata"]["provider"], account.get_json()["metadata"]["provider"]} == {"alpaca"}


def test_the_description_admits_the_demo_label(make_app):
    from opitios.openapi import build_spec

    app = make_app()
    with app.app_context():
        schemas = build_spec(app)["components"]["schemas"]

    for name in ("MarketMetadata", "TradingMetadata"):
        assert DEMO["data_source"] in schemas[name]["properties"]["data_source"]["enum"]
        assert set(schemas[name]["properties"]["data_source"]["enum"]) - {DEMO["data_source"]} <= REAL_SOURCES
