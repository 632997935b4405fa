#!/usr/bin/env bash
# Serve opitios against the bundled OFFLINE SANDBOX upstream: synthetic, deterministic data,
# never real market data. The sandbox listens on 127.0.0.1:${SANDBOX_PORT:-9100}.
set -euo pipefail
cd "$(dirname "$0")/.."

port=${SANDBOX_PORT:-9100}
.venv/bin/python -m sandbox --host 127.0.0.1 --port "$port" &
sandbox_pid=$!
trap 'kill "$sandbox_pid" 2>/dev/null || true' EXIT INT TERM

for _ in $(seq 1 50); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.2
done

# A database of the demo's own, with market data open to anonymous clients so curl needs no key.
export DATABASE_URL="sqlite:///$PWD/instance/demo.db"
mkdir -p instance
.venv/bin/opitios db upgrade
.venv/bin/opitios config set access public_market_data=true >/dev/null
# Trading always needs a key: the demo keeps one (for its own database only) in instance/demo.key.
if [ ! -s instance/demo.key ]; then
  .venv/bin/opitios keys create --name demo --scopes read,trade | tail -n 1 > instance/demo.key
fi
echo "DEMO: trading key for this sandbox demo: $(cat instance/demo.key)  (also in instance/demo.key)"
echo "DEMO: opitios is serving SANDBOX data from http://127.0.0.1:$port (not real market data)"
ALPACA_API_KEY=sandbox-key ALPACA_SECRET_KEY=sandbox-secret \
ALPACA_DATA_URL="http://127.0.0.1:$port" ALPACA_TRADING_URL="http://127.0.0.1:$port" \
OPITIOS_DEMO=true \
  .venv/bin/gunicorn -c gunicorn.conf.py wsgi:app
