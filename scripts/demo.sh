#!/usr/bin/env bash
# Serve opitios against the bundled OFFLINE SANDBOX upstream: synthetic, deterministic data,
# never real market data. The sandbox listens on 127.0.0.1:${SANDBOX_PORT:-9100}, its market-data
# stream on 127.0.0.1:${SANDBOX_STREAM_PORT:-9101}; one `opitios stream` keeps hot quotes fresh from it.
set -euo pipefail
cd "$(dirname "$0")/.."

port=${SANDBOX_PORT:-9100}
stream_port=${SANDBOX_STREAM_PORT:-9101}
# A live clock: REST answers age as real ones do, beside the stream's.
.venv/bin/python -m sandbox --host 127.0.0.1 --port "$port" --stream-port "$stream_port" --clock live &
sandbox_pid=$!
streamer_pid=
trap 'kill $streamer_pid "$sandbox_pid" 2>/dev/null || true' EXIT INT TERM

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

export ALPACA_API_KEY=sandbox-key ALPACA_SECRET_KEY=sandbox-secret
export ALPACA_DATA_URL="http://127.0.0.1:$port" ALPACA_TRADING_URL="http://127.0.0.1:$port"
export ALPACA_STREAM_URL="ws://127.0.0.1:$stream_port"
export OPITIOS_DEMO=true
# The stream's lease and the cache it writes are shared through Redis (`make demo` starts it when it is down);
# the demo's keys live under a prefix of their own.
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0} OPITIOS_REDIS_PREFIX=${OPITIOS_REDIS_PREFIX:-opitios-demo}
.venv/bin/opitios stream &
streamer_pid=$!
echo "DEMO: opitios stream (pid $streamer_pid) keeps hot quotes fresh from the sandbox's stream: ask twice, see \"source\":\"stream\""
.venv/bin/gunicorn -c gunicorn.conf.py wsgi:app
