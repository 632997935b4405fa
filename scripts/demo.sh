#!/usr/bin/env bash
# Serve opitios against the bundled OFFLINE SANDBOX upstream: synthetic, deterministic data,
# never real market data. The sandbox listens on 127.0.0.1:${SANDBOX_PORT:-9100}, its market-data
# stream on 127.0.0.1:${SANDBOX_STREAM_PORT:-9101} (one `opitios stream` keeps hot quotes fresh from it),
# opitios on ${OPITIOS_BIND:-0.0.0.0:8081}; the demo's database and trading key live in ${DEMO_INSTANCE:-instance}/.
# SANDBOX_NOW (ISO 8601) starts the sandbox's frozen clock at another moment than now.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

sandbox_port=${SANDBOX_PORT:-9100}
stream_port=${SANDBOX_STREAM_PORT:-9101}
bind=${OPITIOS_BIND:-0.0.0.0:8081}
gateway_port=${bind##*:}
instance=${DEMO_INSTANCE:-$root/instance}
mkdir -p "$instance"
instance=$(cd "$instance" && pwd)

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A port someone else holds would be answered by them, not by the demo: stop before starting anything.
if listening "$sandbox_port"; then
  echo "make demo: port $sandbox_port (the sandbox's) is in use by another program." >&2
  echo "make demo: stop that program, or give the sandbox another port: SANDBOX_PORT=9200 make demo" >&2
  exit 1
fi
if listening "$stream_port"; then
  echo "make demo: port $stream_port (the sandbox stream's) is in use by another program." >&2
  echo "make demo: stop that program, or give the stream another port: SANDBOX_STREAM_PORT=9201 make demo" >&2
  exit 1
fi
if listening "$gateway_port"; then
  echo "make demo: port $gateway_port (opitios's) is in use by another program." >&2
  echo "make demo: stop that program, or serve opitios elsewhere: OPITIOS_BIND=127.0.0.1:8082 make demo" >&2
  exit 1
fi

sandbox_pid=""
streamer_pid=""
gunicorn_pid=""
stop_both() {
  trap - EXIT INT TERM
  kill $gunicorn_pid $streamer_pid $sandbox_pid 2>/dev/null || true
  wait 2>/dev/null || true
}
trap stop_both EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Without SANDBOX_NOW, a live clock: REST answers age as real ones do, beside the stream's.
clock=(--clock live)
[ -z "${SANDBOX_NOW:-}" ] || clock=(--now "$SANDBOX_NOW")
.venv/bin/python -m sandbox --host 127.0.0.1 --port "$sandbox_port" --stream-port "$stream_port" "${clock[@]}" &
sandbox_pid=$!
until listening "$sandbox_port"; do
  if ! kill -0 "$sandbox_pid" 2>/dev/null; then
    echo "make demo: the sandbox did not start on port $sandbox_port (see above)" >&2
    exit 1
  fi
  sleep 0.2
done

# A database of the demo's own: market data open to anonymous clients so curl needs no key, and client
# limits a newcomer does not reach (without Redis each worker counts alone).
export DATABASE_URL="sqlite:///$instance/demo.db"
[ -e "$instance/demo.db" ] || rm -f "$instance/demo.key"  # a key of a database that is gone
.venv/bin/opitios db upgrade
.venv/bin/opitios config set access public_market_data=true >/dev/null
.venv/bin/opitios config set rate_limits anonymous_per_hour=100000 keyed_per_hour=100000 keyed_per_minute=10000 >/dev/null
# Trading always needs a key: the demo keeps one (for its own database only) in demo.key.
if [ ! -s "$instance/demo.key" ]; then
  .venv/bin/opitios keys create --name demo --scopes read,trade | tail -n 1 > "$instance/demo.key"
fi

database=$(printf '%q' "$DATABASE_URL")
opitios=$(printf '%q' "$root/.venv/bin/opitios")
cat <<EOF
DEMO: opitios is serving SANDBOX data from http://127.0.0.1:$sandbox_port (not real market data) on http://localhost:$gateway_port
DEMO: trading key for this sandbox demo: $(cat "$instance/demo.key")  (also in $instance/demo.key)
DEMO: the demo's database is $instance/demo.db, not the CLI's default (instance/opitios.db).
DEMO: to make a key or change a setting of the running demo (its workers apply a setting within 5 s), run:
  DATABASE_URL=$database $opitios keys create --name me --scopes read
  DATABASE_URL=$database $opitios config set rate_limits anonymous_per_hour=5000
EOF

export ALPACA_API_KEY=sandbox-key ALPACA_SECRET_KEY=sandbox-secret
export ALPACA_DATA_URL="http://127.0.0.1:$sandbox_port" ALPACA_TRADING_URL="http://127.0.0.1:$sandbox_port"
export ALPACA_STREAM_URL="ws://127.0.0.1:$stream_port"
export OPITIOS_DEMO=true OPITIOS_BIND="$bind"
# The stream's lease and the cache it writes are shared through Redis (`make demo` starts it when it is down);
# the demo's keys live under a prefix of their own.
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0} OPITIOS_REDIS_PREFIX=${OPITIOS_REDIS_PREFIX:-opitios-demo}
.venv/bin/opitios stream &
streamer_pid=$!
echo "DEMO: opitios stream (pid $streamer_pid) keeps hot quotes fresh from the sandbox's stream: ask twice, see \"source\":\"stream\""
.venv/bin/gunicorn -c gunicorn.conf.py wsgi:app &
gunicorn_pid=$!
wait "$gunicorn_pid"
