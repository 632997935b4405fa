"""A bare Flask app with opitios's quote route shape and a constant body: the baseline for throughput ratios."""

import json

from flask import Flask, Response

# Same shape and about the same size as opitios's quote answer (~530 bytes), but fixed: whatever
# opitios spends above this app is its own work, not Flask's, gunicorn's or the network's.
_BODY = json.dumps(
    {
        "data": {
            "symbol": "AAPL", "bid_price": 190.1, "bid_size": 3, "ask_price": 190.14, "ask_size": 6,
            "last_price": 190.11, "last_size": 300, "volume": 38361161,
            "quote_timestamp": "2026-01-15T15:29:59.301846271Z", "trade_timestamp": "2026-01-15T15:29:58.98902682Z",
        },
        "metadata": {
            "request_id": "00000000000000000000000000000000", "timestamp": "2026-01-15T15:30:00.123Z",
            "data_source": "bare_baseline", "provider": "none", "feed": "none",
            "data_timestamp": "2026-01-15T15:29:59.301846271Z", "data_freshness_seconds": 0.822,
            "market_status": "closed", "cache": "none",
        },
    },
    separators=(",", ":"),
).encode()

app = Flask(__name__)


@app.get("/api/v1/stocks/<symbol>/quote")
def quote(symbol: str) -> Response:
    return Response(_BODY, mimetype="application/json")
