"""The market-data stream: one process per deployment keeps its hot stock quotes fresh from the upstream's push.

``opitios stream`` runs beside the web tier (asyncio, long-lived; the web tier is gevent WSGI).
Any number may run, one per instance; only the holder of a Redis lease connects, since Alpaca
allows an account one stream connection per feed. The holder subscribes to the symbols clients
asked for lately (``interest``), merges what the stream pushes into the same cache entries the REST
path writes (``book``), and vouches for each entry only ``stream.max_lag_seconds`` at a time, so
a stream that drops, stalls or lags hands its symbols back to REST TTLs and refresh-ahead by
itself. Its state and counters are in Redis (``board``) for readiness and ``/metrics``.
"""
