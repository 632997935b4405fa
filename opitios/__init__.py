"""opitios: a market-data and trading gateway in front of Alpaca that serves real upstream data only.

The app is assembled by ``opitios.app.create_app``. This package imports nothing, so that
gunicorn's master can import ``opitios.gunicorn_worker`` before gevent patches the workers.
"""
