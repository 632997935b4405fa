"""Alpaca's market-data stream of stock quotes, trades and daily bars: connect, authenticate, (un)subscribe, read.

alpaca-py's ``StockDataStream`` runs a loop of its own and keeps to itself what opitios must act on:
whether it is connected, what the upstream confirmed, and the upstream's error codes (a 406 means
"another connection holds the account's one stream": back off, never fight). So this speaks the
same protocol directly with the websockets package, in msgpack as alpaca-py does, and hands the
streamer each of those facts. The wire → quote-part mapping is ``wire.stream_update``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import msgpack
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from providers.alpaca import wire
from providers.base import (
    StreamConnectionLimit,
    StreamNotice,
    StreamRefused,
    StreamSubscription,
    StreamUnavailable,
    StreamUpdate,
    UpstreamInvalidResponse,
)

STREAM_URL = "wss://stream.data.alpaca.markets"
# The channels the quote parts come from: bid/ask, last, volume.
CHANNELS = ("quotes", "trades", "dailyBars")
CONNECTION_LIMIT = 406
# Errors after which the connection is of no use (auth failed, connection limit, insufficient subscription).
FATAL = {402, CONNECTION_LIMIT, 409}
MAX_FRAME_BYTES = 16 * 1024 * 1024  # a busy subscription's batches are far beyond websockets' 1 MiB default


def rfc3339_nano(stamp: msgpack.Timestamp) -> str:
    """The instant as Alpaca writes it in JSON (Go's RFC3339Nano: UTC, the fraction's trailing zeros cut)."""
    whole = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(stamp.seconds))
    fraction = f".{stamp.nanoseconds:09d}".rstrip("0") if stamp.nanoseconds else ""
    return f"{whole}{fraction}Z"


def _refused(message: dict) -> StreamRefused:
    code, text = message.get("code"), str(message.get("msg") or "refused")
    return StreamConnectionLimit(code, text) if code == CONNECTION_LIMIT else StreamRefused(code, text)


def _decode(raw: bytes | str) -> list[dict]:
    """A frame → its messages, timestamps as the strings Alpaca's JSON would carry."""
    try:
        messages = msgpack.unpackb(raw) if isinstance(raw, bytes) else json.loads(raw)
    except ValueError as error:
        raise UpstreamInvalidResponse(f"The upstream sent an unreadable stream frame ({error})") from None
    if not isinstance(messages, list) or not all(isinstance(message, dict) for message in messages):
        raise UpstreamInvalidResponse("The upstream sent a stream frame that is not a list of messages")
    for message in messages:
        if isinstance(message.get("t"), msgpack.Timestamp):
            message["t"] = rfc3339_nano(message["t"])
    return messages


class AlpacaQuoteStream:
    """One connection to ``{stream_url}/v2/{feed}``, authenticated on entry (``async with``)."""

    def __init__(self, url: str, key: str, secret: str, timeout: float):
        self.url = url
        self._key = key
        self._secret = secret
        self._timeout = timeout
        self._ws: ClientConnection | None = None

    async def __aenter__(self) -> AlpacaQuoteStream:
        try:
            self._ws = await connect(
                self.url, additional_headers={"Content-Type": "application/msgpack"}, open_timeout=self._timeout,
                max_size=MAX_FRAME_BYTES, ping_interval=10, ping_timeout=20, close_timeout=self._timeout,
            )
            greeting = await self._control()
            if greeting.get("T") != "success" or greeting.get("msg") != "connected":
                raise StreamUnavailable(f"The upstream did not greet the stream connection: {greeting}")
            await self._send({"action": "auth", "key": self._key, "secret": self._secret})
            reply = await self._control()
            if reply.get("T") == "error":
                raise _refused(reply)
            if reply.get("T") != "success" or reply.get("msg") != "authenticated":
                raise StreamUnavailable(f"The upstream did not authenticate the stream: {reply}")
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def close(self) -> None:
        ws, self._ws = self._ws, None
        if ws is not None:
            await ws.close()

    async def _control(self) -> dict:
        """The next message while connecting (Alpaca sends control messages one per frame)."""
        try:
            raw = await asyncio.wait_for(self._ws.recv(), self._timeout)
            messages = _decode(raw)
        except (OSError, InvalidHandshake, InvalidURI, ConnectionClosed, TimeoutError, UpstreamInvalidResponse) as error:
            raise StreamUnavailable(f"The stream at {self.url} failed while connecting: {error}") from error
        if not messages:
            raise StreamUnavailable("The upstream sent an empty frame while connecting")
        return messages[0]

    async def _send(self, message: dict[str, Any]) -> None:
        if self._ws is None:
            raise StreamUnavailable(f"The stream at {self.url} is not open")
        try:
            await self._ws.send(msgpack.packb(message))
        except ConnectionClosed as error:
            raise StreamUnavailable(f"The stream closed: {error}") from error

    async def subscribe(self, symbols: list[str]) -> None:
        if symbols:
            await self._send({"action": "subscribe", **{channel: symbols for channel in CHANNELS}})

    async def unsubscribe(self, symbols: list[str]) -> None:
        if symbols:
            await self._send({"action": "unsubscribe", **{channel: symbols for channel in CHANNELS}})

    async def events(self) -> AsyncIterator[StreamUpdate | StreamSubscription | StreamNotice]:
        try:
            async for raw in self._ws:
                try:
                    messages = _decode(raw)
                except UpstreamInvalidResponse as error:
                    yield StreamNotice(None, error.message)
                    continue
                for message in messages:
                    event = self._event(message)
                    if event is not None:
                        yield event
        except ConnectionClosed as error:
            raise StreamUnavailable(f"The stream closed: {error}") from error
        raise StreamUnavailable("The upstream closed the stream")

    @staticmethod
    def _event(message: dict) -> StreamUpdate | StreamSubscription | StreamNotice | None:
        kind = message.get("T")
        if kind == "subscription":
            confirmed = [set(message.get(channel) or ()) for channel in CHANNELS]
            return StreamSubscription(frozenset(set.intersection(*confirmed)))
        if kind == "error":
            if message.get("code") in FATAL:
                raise _refused(message)
            return StreamNotice(message.get("code"), str(message.get("msg")))
        try:
            return wire.stream_update(message)
        except UpstreamInvalidResponse as error:
            return StreamNotice(None, error.message)
