"""Option quotes, batches and chains: upstream values only, identity from the OCC symbol, filters upstream."""

import pytest

SNAPSHOTS = "/v1beta1/options/snapshots"
OPTION_KEYS = [
    "symbol", "underlying_symbol", "expiration_date", "option_type", "strike_price",
    "bid_price", "bid_size", "ask_price", "ask_size", "last_price", "last_size",
    "implied_volatility", "greeks", "quote_timestamp", "trade_timestamp",
]


def raw_snapshot(sandbox, symbol):
    status, _, body = sandbox.get(SNAPSHOTS, symbols=symbol, feed="indicative")
    assert status == 200
    return body["snapshots"][symbol]


def regular_contract(catalog):
    specials = set(catalog["option_special"].values())
    return next(s for s in catalog["options"]["AAPL"] if s not in specials)


def test_option_quote_passes_values_through_and_parses_identity(client, sandbox, catalog, upstream_queries):
    symbol = regular_contract(catalog)
    snap = raw_snapshot(sandbox, symbol)
    response = client.get(f"/api/v1/options/{symbol.lower()}/quote")
    assert response.status_code == 200
    body = response.get_json()
    data = body["data"]
    assert list(data) == OPTION_KEYS
    expiration = f"20{symbol[4:6]}-{symbol[6:8]}-{symbol[8:10]}"
    assert (data["symbol"], data["underlying_symbol"], data["expiration_date"]) == (symbol, "AAPL", expiration)
    assert data["option_type"] == ("call" if symbol[10] == "C" else "put")
    assert data["strike_price"] == int(symbol[11:]) / 1000
    quote, trade = snap["latestQuote"], snap["latestTrade"]
    assert (data["bid_price"], data["bid_size"], data["ask_price"], data["ask_size"]) == (quote["bp"], quote["bs"], quote["ap"], quote["as"])
    assert (data["last_price"], data["last_size"]) == (trade["p"], trade["s"])
    assert data["implied_volatility"] == snap["impliedVolatility"]
    assert data["greeks"] == {name: snap["greeks"][name] for name in ("delta", "gamma", "theta", "vega", "rho")}
    assert (data["quote_timestamp"], data["trade_timestamp"]) == (quote["t"], trade["t"])
    assert body["metadata"]["data_source"] == "alpaca_options_real_time"
    assert body["metadata"]["feed"] == "indicative"
    assert body["metadata"]["data_timestamp"] == quote["t"]
    assert upstream_queries(SNAPSHOTS)[-1]["feed"] == "indicative"


def test_post_option_quote_is_the_same_answer(client, catalog):
    symbol = regular_contract(catalog)
    get = client.get(f"/api/v1/options/{symbol}/quote").get_json()["data"]
    post = client.post("/api/v1/options/quote", json={"option_symbol": symbol}).get_json()["data"]
    assert post == get


def test_iv_and_greeks_appear_only_when_the_upstream_sent_them(client, sandbox, catalog):
    symbol = catalog["option_special"]["no_greeks"]
    snap = raw_snapshot(sandbox, symbol)
    assert "greeks" not in snap and "impliedVolatility" not in snap
    data = client.get(f"/api/v1/options/{symbol}/quote").get_json()["data"]
    assert data["implied_volatility"] is None and data["greeks"] is None
    assert data["last_price"] is None  # never traded: nothing taken from the quote instead


def test_an_option_side_without_a_quote_is_null(client, sandbox, catalog):
    symbol = catalog["option_special"]["no_bid"]
    assert raw_snapshot(sandbox, symbol)["latestQuote"]["bp"] == 0
    data = client.get(f"/api/v1/options/{symbol}/quote").get_json()["data"]
    assert data["bid_price"] is None and data["bid_size"] is None


def test_an_untraded_contract_has_null_trade_fields(client, sandbox, catalog):
    symbol = catalog["option_special"]["no_trade"]
    snap = raw_snapshot(sandbox, symbol)
    data = client.get(f"/api/v1/options/{symbol}/quote").get_json()["data"]
    assert data["last_price"] is None and data["trade_timestamp"] is None
    assert data["greeks"]["delta"] == snap["greeks"]["delta"]


def test_an_unknown_contract_is_404(client):
    response = client.get("/api/v1/options/AAPL300118C00190000/quote")
    assert response.status_code == 404
    assert response.headers["X-Error-Code"] == "OPTION_CONTRACT_NOT_FOUND"


@pytest.mark.parametrize("symbol", ["AAPL", "AAPL241320C00190000", "AAPL240216X00190000", "AAPL240216C0019"])
def test_a_malformed_contract_symbol_is_400_without_an_upstream_call(client, sandbox, symbol):
    response = client.get(f"/api/v1/options/{symbol}/quote")
    assert response.status_code == 400
    assert response.headers["X-Error-Code"] == "INVALID_SYMBOL_FORMAT"
    assert sandbox.count() == 0


def test_option_batch_makes_one_call_and_keeps_errors_in_place(client, sandbox, catalog, upstream_queries):
    known = catalog["options"]["AAPL"][:3]
    asked = [known[0], "AAPL300118C00190000", known[1], known[2]]
    response = client.post("/api/v1/options/quotes/batch", json={"option_symbols": asked})
    assert response.status_code == 200
    assert sandbox.count(SNAPSHOTS) == 1
    assert upstream_queries(SNAPSHOTS)[0]["symbols"].split(",") == asked
    data = response.get_json()["data"]
    assert [entry["status"] for entry in data["quotes"]] == ["success", "error", "success", "success"]
    assert data["quotes"][1]["error"]["code"] == "OPTION_CONTRACT_NOT_FOUND"
    assert data["quotes"][0]["underlying_symbol"] == "AAPL"
    assert data["summary"] == {"total_requested": 4, "successful": 3, "failed": 1}


def test_option_batch_limits(client, sandbox):
    response = client.post("/api/v1/options/quotes/batch", json={"option_symbols": [f"AAPL240216C00{190 + i:03d}000" for i in range(21)]})
    assert response.headers["X-Error-Code"] == "REQUEST_SIZE_EXCEEDED"
    response = client.post("/api/v1/options/quotes/batch", json={"option_symbols": ["AAPL"]})
    assert response.headers["X-Error-Code"] == "INVALID_SYMBOL_FORMAT"
    assert sandbox.count() == 0


def test_chain_filters_go_to_the_upstream(client, sandbox, catalog, upstream_queries):
    expiration = catalog["options"]["AAPL"][0][4:10]
    expiration = f"20{expiration[:2]}-{expiration[2:4]}-{expiration[4:]}"
    response = client.get(
        f"/api/v1/options/aapl/chain?expiration_date={expiration}&option_type=call&min_strike=185&max_strike=195.5&limit=50"
    )
    assert response.status_code == 200
    sent = upstream_queries("/v1beta1/options/snapshots/AAPL")[-1]
    assert sent == {
        "feed": "indicative", "type": "call", "strike_price_gte": "185", "strike_price_lte": "195.5",
        "expiration_date": expiration, "limit": "50",
    }
    data = response.get_json()["data"]
    assert data["underlying_symbol"] == "AAPL"
    assert data["expiration_dates"] == [expiration]
    assert data["count"] == len(data["contracts"]) > 0
    assert all(c["option_type"] == "call" and 185 <= c["strike_price"] <= 195.5 for c in data["contracts"])
    assert data["filters_applied"] == {"expiration_date": expiration, "option_type": "call", "min_strike": "185", "max_strike": "195.5"}
    _, _, raw = sandbox.get("/v1beta1/options/snapshots/AAPL", **sent)
    assert [c["symbol"] for c in data["contracts"]] == sorted(raw["snapshots"])
    first = data["contracts"][0]
    assert first["bid_price"] == raw["snapshots"][first["symbol"]]["latestQuote"]["bp"]
    assert response.get_json()["metadata"]["data_source"] == "alpaca_options_chain"


def test_chain_pages_continue_with_the_upstream_token(client, catalog, upstream_queries):
    first = client.get("/api/v1/options/AAPL/chain?limit=10").get_json()["data"]
    assert first["count"] == 10 and first["page_info"]["has_more"] is True
    token = first["page_info"]["next_page_token"]
    second = client.get(f"/api/v1/options/AAPL/chain?limit=10&page_token={token}").get_json()["data"]
    assert upstream_queries("/v1beta1/options/snapshots/AAPL")[-1]["page_token"] == token
    assert second["contracts"][0]["symbol"] > first["contracts"][-1]["symbol"]
    assert [c["symbol"] for c in first["contracts"] + second["contracts"]] == catalog["options"]["AAPL"][:20]


@pytest.mark.parametrize(
    "ask",
    [
        lambda client: client.get("/api/v1/options/AAPL/chain?page_token=not-a-token"),
        lambda client: client.post("/api/v1/options/chain", json={"underlying_symbol": "AAPL", "page_token": "not-a-token"}),
    ],
)
def test_a_page_token_the_upstream_did_not_hand_out_is_400(client, upstream_queries, ask):
    """Tokens pass through unchanged; the upstream decides, and its refusal is the client's INVALID_PARAMETER."""
    response = ask(client)

    assert response.status_code == 400
    assert response.headers["X-Error-Code"] == "INVALID_PARAMETER"
    assert upstream_queries("/v1beta1/options/snapshots/AAPL")[-1]["page_token"] == "not-a-token"


def test_post_chain_is_the_same_answer(client):
    get = client.get("/api/v1/options/SPY/chain?option_type=put").get_json()["data"]
    post = client.post("/api/v1/options/chain", json={"underlying_symbol": "SPY", "option_type": "put"}).get_json()["data"]
    assert post == get


def test_an_unknown_underlying_is_404_chain_unavailable(client):
    response = client.get("/api/v1/options/ZZZZ/chain")
    assert response.status_code == 404
    assert response.headers["X-Error-Code"] == "OPTIONS_CHAIN_UNAVAILABLE"


@pytest.mark.parametrize(
    "query, code",
    [
        ("option_type=straddle", "INVALID_PARAMETER"),
        ("min_strike=-5", "INVALID_PARAMETER"),
        ("min_strike=abc", "INVALID_PARAMETER"),
        ("min_strike=200&max_strike=100", "INVALID_PARAMETER"),
        ("expiration_date=2024-02-30", "INVALID_PARAMETER"),
        ("expiration_date_gte=2024-06-10&expiration_date_lte=2024-06-01", "INVALID_DATE_RANGE"),
        ("limit=0", "INVALID_PARAMETER"),
    ],
)
def test_bad_chain_parameters_are_400_without_an_upstream_call(client, sandbox, query, code):
    response = client.get(f"/api/v1/options/AAPL/chain?{query}")
    assert response.status_code == 400
    assert response.headers["X-Error-Code"] == code
    assert sandbox.count() == 0


def test_post_chain_needs_an_underlying(client):
    response = client.post("/api/v1/options/chain", json={"option_type": "call"})
    assert response.headers["X-Error-Code"] == "INVALID_REQUEST_BODY"
