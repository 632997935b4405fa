"""A bare Flask app with one route, opitios's quote path, answering a constant ~400-byte JSON body.

It is the baseline of the throughput ratios: served by the same gunicorn settings as opitios, it
shows what Flask, gunicorn, gevent, the loopback network and the load generator cost by
themselves, so whatever opitios spends above it is its own work (authentication, rate limiting,
metrics, the cache, the envelope). It answers any symbol, so the round-robin script can run on it.
"""

import json

from flask import Flask, Response

# Same shape as opitios's quote answer, trimmed to about 400 bytes (BODY_BYTES: 399): a constant, so nothing is
# computed per request.
_BODY = json.dumps(
    {
        "data": {
            "symbol": "AAPL", "bid_price": 190.1, "bid_size": 3, "ask_price": 190.14, "ask_size": 6,
            "last_price": 190.11, "last_size": 300, "volume": 38361161,
            "quote_timestamp": "2026-01-15T15:29:59.301846271Z",
        },
        "metadata": {
            "request_id": "00000000000000000000000000000000", "timestamp": "2026-01-15T15:30:00.123Z",
            "data_source": "bare_flask_baseline", "provider": "none", "feed": "iex", "market_status": "open",
            "cache": "none",
        },
    },
    separators=(",", ":"),
).encode()
BODY_BYTES = len(_BODY)

app = Flask(__name__)


@app.get("/api/v1/stocks/<symbol>/quote")
def quote(symbol: str) -> Response:
    return Response(_BODY, mimetype="application/json")
