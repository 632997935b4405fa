"""Command line: ``python -m sandbox [--host] [--port] [--stream-port] [--key] [--secret] [--now] [--clock] [--verbose]``."""
import argparse
import logging
import sys
from datetime import datetime

from werkzeug.serving import make_server

from . import stream
from .app import SandboxApp
from .state import State
from .times import UTC, parse_now, rfc3339

BANNER = """\
------------------------------------------------------------------------------
 Offline Alpaca-compatible SANDBOX: speaks Alpaca's market-data and trading
 wire format, but serves SYNTHETIC, DETERMINISTIC data. NOT real market data.
 Sandbox clock ({clock}): {now}
 API key / secret: {key} / {secret}
 Control API: {url}/_sandbox/  (health, catalog, calls, reset, switches, stream)
 Market-data stream: {stream_url}/v2/iex  (live: stamped with the wall clock)
------------------------------------------------------------------------------"""


def _arguments(argv):
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100, help="0 picks a free port")
    parser.add_argument("--stream-port", type=int, default=9101, help="the websocket stream's port; 0 picks a free one")
    parser.add_argument("--key", default="sandbox-key")
    parser.add_argument("--secret", default="sandbox-secret")
    parser.add_argument("--now", help="ISO 8601 start of the frozen clock (default: now, whole ms)")
    parser.add_argument("--clock", choices=("frozen", "live"), default="frozen",
                        help="live: REST answers follow the wall clock, as the stream does (the switch 'clock')")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = _arguments(argv)
    if args.now:
        try:
            now = parse_now(args.now)
        except ValueError:
            sys.exit(f"invalid --now: {args.now}")
    else:
        wall = datetime.now(UTC)
        now = wall.replace(microsecond=wall.microsecond // 1000 * 1000)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(name)s: %(message)s")
    for chatty in ("werkzeug", "websockets"):
        logging.getLogger(chatty).setLevel(logging.INFO if args.verbose else logging.WARNING)
    state = State(args.key, args.secret, now, clock=args.clock)
    server = make_server(args.host, args.port, SandboxApp(state), threaded=True)
    state.stream_url = stream.start(args.host, args.stream_port, state)
    url = f"http://{args.host}:{server.server_port}"
    print(f"SANDBOX LISTENING {url}", flush=True)
    print(BANNER.format(clock=args.clock, now=rfc3339(now), key=args.key, secret=args.secret, url=url, stream_url=state.stream_url),
          flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
