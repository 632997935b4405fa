"""alpaca-py clients are built once per app, never per request."""

from alpaca.common.rest import RESTClient

ROUTES = [
    ("get", "/api/v1/stocks/AAPL/quote", {}),
    ("post", "/api/v1/stocks/quote", {"json": {"symbol": "AAPL"}}),
    ("post", "/api/v1/stocks/quotes/batch", {"json": {"symbols": ["AAPL", "MSFT"]}}),
    ("get", "/api/v1/stocks/quotes?symbols=AAPL", {}),
    ("get", "/api/v1/stocks/AAPL/bars?timeframe=1Hour&limit=2", {}),
    ("get", "/api/v1/options/AAPL/chain?limit=2", {}),
    ("post", "/api/v1/options/chain", {"json": {"underlying_symbol": "AAPL", "limit": 2}}),
]


def test_no_route_builds_an_alpaca_client(make_app, catalog, monkeypatch):
    built = []
    original = RESTClient.__init__

    def counting_init(self, *args, **kwargs):
        built.append(type(self).__name__)
        original(self, *args, **kwargs)

    monkeypatch.setattr(RESTClient, "__init__", counting_init)
    client = make_app().test_client()
    assert sorted(built) == ["OptionHistoricalDataClient", "StockHistoricalDataClient", "TradingClient"]

    contract = catalog["options"]["AAPL"][0]
    routes = ROUTES + [
        ("get", f"/api/v1/options/{contract}/quote", {}),
        ("post", "/api/v1/options/quote", {"json": {"option_symbol": contract}}),
        ("post", "/api/v1/options/quotes/batch", {"json": {"option_symbols": [contract]}}),
    ]
    for _ in range(2):
        for method, path, kwargs in routes:
            assert getattr(client, method)(path, **kwargs).status_code == 200, path
    assert len(built) == 3
