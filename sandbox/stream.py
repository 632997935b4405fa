"""Alpaca's market-data stream (``wss://stream.data.alpaca.markets/v2/{feed}``) on a websocket listener.

The protocol as Alpaca speaks it: ``[{"T":"success","msg":"connected"}]`` on connect; an ``auth``
action (or the APCA-API-* headers on the handshake) answered with ``authenticated`` or error 402;
``subscribe``/``unsubscribe`` answered with the whole ``subscription``; errors 400-406 as
``[{"T":"error","code":…,"msg":…}]``. Every frame is a JSON array, or msgpack when the client sent
``Content-Type: application/msgpack`` (timestamps then travel as msgpack Timestamps). Data are ``q``,
``t`` and ``d`` messages with the same values as the REST snapshots, stamped with the wall clock at
the moment they are pushed: the stream is live even while the REST clock stands still.
"""
import asyncio
import hmac
import itertools
import json
import logging
import queue
import threading
import time
from collections import Counter
from datetime import datetime
from http import HTTPStatus

import msgpack
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from . import catalog, stocks
from .params import STOCK_FEEDS
from .state import State
from .stream_state import CHANNELS, DATA_CHANNELS, LIMITED, StreamState
from .times import UTC, parse_rfc3339, rfc3339_ns, to_ns

MESSAGES = {
    400: "invalid syntax",
    401: "not authenticated",
    402: "auth failed",
    403: "already authenticated",
    404: "auth timeout",
    405: "symbol limit exceeded",
    406: "connection limit exceeded",
}
MSGPACK = "application/msgpack"
_START_TIMEOUT = 10.0
_ids = itertools.count(1)

log = logging.getLogger("sandbox.stream")


def _data(symbols: dict[str, list[str]], now_ns: int, muted: list[str]) -> list[dict]:
    """This tick's q/t/d messages for the subscribed symbols, by symbol; ``t`` is nanoseconds until encoded."""
    wanted: dict[str, set[str]] = {}
    for channel, kind in DATA_CHANNELS.items():
        if channel not in muted:
            for symbol in symbols.get(channel, ()):
                wanted.setdefault(symbol, set()).add(kind)
    moment = None
    messages = []
    for symbol in sorted(wanted):
        stock = catalog.stock(symbol)
        if stock is None:
            continue  # Alpaca accepts any symbol; one it has no data for simply stays quiet
        kinds = wanted[symbol]
        if "q" in kinds:
            messages.append({"T": "q", "S": symbol, **stocks.quote_at(stock, now_ns), "t": now_ns})
        if "t" in kinds and stock.traded:
            messages.append({"T": "t", "S": symbol, **stocks.trade_at(stock, now_ns), "t": now_ns})
        if "d" in kinds:
            moment = moment or _instant(now_ns)
            bar = stocks.daily_bar(stock, moment)
            if bar is not None:
                messages.append({"T": "d", "S": symbol, **bar, "t": to_ns(parse_rfc3339(bar["t"]))})
    return messages


def _instant(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / 1e9, UTC)


def _json_form(message: dict) -> dict:
    stamp = message.get("t")
    return {**message, "t": rfc3339_ns(stamp)} if isinstance(stamp, int) else message


def _msgpack_form(message: dict) -> dict:
    stamp = message.get("t")
    return {**message, "t": msgpack.Timestamp.from_unix_nano(stamp)} if isinstance(stamp, int) else message


class Session:
    """One client connection: its encoding, its authentication and its subscriptions."""

    def __init__(self, ws: ServerConnection, state: State, stream: StreamState):
        self.ws = ws
        self.state = state
        self.stream = stream
        self.id = next(_ids)
        self.binary = ws.request.headers.get("Content-Type", "").split(";")[0].strip() == MSGPACK
        self.key: str | None = None  # the API key, once authenticated
        self.subscriptions: dict[str, list[str]] = {channel: [] for channel in CHANNELS}

    async def send(self, messages: list[dict]) -> None:
        if self.binary:
            await self.ws.send(msgpack.packb([_msgpack_form(m) for m in messages]))
        else:
            await self.ws.send(json.dumps([_json_form(m) for m in messages], separators=(",", ":")))

    async def error(self, code: int) -> None:
        self.stream.error(code)
        await self.send([{"T": "error", "code": code, "msg": MESSAGES[code]}])

    async def run(self) -> None:
        self.stream.opened(self.id)
        ticker = asyncio.create_task(self.tick())
        try:
            await self.send([{"T": "success", "msg": "connected"}])
            headers = self.ws.request.headers
            if "APCA-API-KEY-ID" in headers:
                await self.authenticate(headers.get("APCA-API-KEY-ID", ""), headers.get("APCA-API-SECRET-KEY", ""))
            await self.receive()
        except ConnectionClosed:
            pass
        finally:
            ticker.cancel()
            self.stream.closed(self.id, self.key)

    async def receive(self) -> None:
        deadline = time.monotonic() + self.stream.switches()["auth_timeout_ms"] / 1000
        while True:
            try:
                timeout = None if self.key else max(0.0, deadline - time.monotonic())
                raw = await asyncio.wait_for(self.ws.recv(), timeout)
            except asyncio.TimeoutError:
                await self.error(404)
                await self.ws.close()
                return
            try:
                message = msgpack.unpackb(raw) if isinstance(raw, bytes) else json.loads(raw)
            except ValueError:
                await self.error(400)
                continue
            action = message.get("action") if isinstance(message, dict) else None
            if action == "auth":
                if self.key is not None:
                    await self.error(403)
                else:
                    await self.authenticate(message.get("key"), message.get("secret"))
            elif action in ("subscribe", "unsubscribe"):
                if self.key is None:
                    await self.error(401)
                else:
                    await self.change(action, message)
            else:
                await self.error(400)

    async def authenticate(self, key, secret) -> None:
        right = (isinstance(key, str) and isinstance(secret, str)
                 and hmac.compare_digest(key.encode(), self.state.key.encode())
                 & hmac.compare_digest(secret.encode(), self.state.secret.encode()))
        if not right:
            await self.error(402)
            return
        if not self.stream.authenticate(key):
            await self.error(406)  # one connection per key, as on Alpaca's plans
            await self.ws.close()
            return
        self.key = key
        await self.send([{"T": "success", "msg": "authenticated"}])

    async def change(self, action: str, message: dict) -> None:
        asked = {}
        for channel in CHANNELS:
            symbols = message.get(channel)
            if symbols is None:
                continue
            if not isinstance(symbols, list) or not all(isinstance(s, str) for s in symbols):
                await self.error(400)
                return
            asked[channel] = symbols
        if "trades" in asked:  # Alpaca follows a trade subscription with its corrections and cancels
            asked.setdefault("corrections", asked["trades"])
            asked.setdefault("cancelErrors", asked["trades"])
        changed = {}
        for channel, symbols in asked.items():
            current = self.subscriptions[channel]
            if action == "subscribe":
                changed[channel] = current + [s for s in dict.fromkeys(symbols) if s not in current]
            else:
                changed[channel] = [s for s in current if s not in symbols]
        limit = self.stream.switches()["symbol_limit"]
        if any(len(changed.get(channel, ())) > limit for channel in LIMITED):
            await self.error(405)  # the subscription stays as it was
            return
        self.subscriptions.update(changed)
        self.stream.subscribed(self.id, self.subscriptions)
        await self.send([{"T": "subscription", **{channel: list(self.subscriptions[channel]) for channel in CHANNELS}}])

    async def tick(self) -> None:
        while True:
            await asyncio.sleep(self.stream.switches()["interval_ms"] / 1000)
            switches = self.stream.switches()
            if switches["down"]:
                self.stream.count("drops")
                await self.ws.close(1011, "sandbox stream down")
                return
            if self.key is None or not any(self.subscriptions[channel] for channel in DATA_CHANNELS):
                continue
            if switches["stall"]:
                self.stream.count("stalled_ticks")
                continue
            messages = _data(self.subscriptions, time.time_ns() - switches["delay_ms"] * 1_000_000, switches["mute"])
            if messages:
                try:
                    await self.send(messages)
                except ConnectionClosed:
                    return
                self.stream.sent(Counter(message["T"] for message in messages))


def _handshake(stream: StreamState):
    def check(connection: ServerConnection, request):
        feed = request.path.removeprefix("/v2/")
        if not request.path.startswith("/v2/") or feed not in STOCK_FEEDS:
            return connection.respond(HTTPStatus.NOT_FOUND, "Not Found\n")
        if stream.switches()["down"]:
            stream.refused("down")
            return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "sandbox stream down\n")
        return None

    return check


async def _serve(host: str, port: int, state: State, ready: queue.Queue) -> None:
    async def handler(ws: ServerConnection) -> None:
        await Session(ws, state, state.stream).run()

    try:
        server = await serve(handler, host, port, process_request=_handshake(state.stream))
    except OSError as error:
        ready.put(error)
        return
    async with server:
        ready.put(f"ws://{host}:{server.sockets[0].getsockname()[1]}")
        await asyncio.Future()  # serve until the process ends


def start(host: str, port: int, state: State) -> str:
    """Serve the stream from a thread of its own (its own event loop); the ``ws://`` URL it listens on."""
    ready: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: asyncio.run(_serve(host, port, state, ready)), name="sandbox-stream",
                     daemon=True).start()
    found = ready.get(timeout=_START_TIMEOUT)
    if isinstance(found, BaseException):
        raise found
    return found
