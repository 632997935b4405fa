"""Trading: account, positions and orders through the broker, never cached, orders placed at most once.

An order's ``client_order_id`` (the client's, or one opitios makes) is its
idempotency key: concurrent requests with one id are claimed like cache keys
(Redis when shared), so one places the order and the others, once it is
done, read that order back; a broker that says the id was used already gets
the same treatment. Every order request leaves an audit line.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from opitios.data_classes import TRADING_DATA_SOURCE
from opitios.json_bytes import to_json
from opitios.services.clock import MarketClock
from opitios.services.results import Result
from opitios.upstream.flight import SingleFlight
from opitios.upstream.gate import UpstreamGate
from providers.base import DuplicateClientOrderId, OrderRequest, ProviderError, TradingProvider, UpstreamTimeout

audit = logging.getLogger("opitios.audit")
POLL_SECONDS = 0.05


class TradingService:
    def __init__(self, provider: TradingProvider, gate: UpstreamGate, flight: SingleFlight, clock: MarketClock, wait_seconds: float):
        self._provider = provider
        self._gate = gate
        self._flight = flight
        self._clock = clock
        self._wait_seconds = wait_seconds

    def _result(self, data: Any, data_timestamp: str | None = None, replayed: bool | None = None) -> Result:
        """A broker answer: never cached (``cache: "none"``)."""
        return Result(to_json(data), TRADING_DATA_SOURCE, self._provider.name, data_timestamp, self._clock.status(),
                      replayed=replayed)

    def account(self) -> Result:
        return self._result(self._gate.call(self._provider.account))

    def positions(self) -> Result:
        positions = self._gate.call(self._provider.positions)
        return self._result({"positions": positions, "count": len(positions)})

    def orders(self, status: str, limit: int) -> Result:
        orders = self._gate.call(self._provider.orders, status, limit)
        return self._result({"orders": orders, "count": len(orders), "status": status})

    def order(self, order_id: str) -> Result:
        order = self._gate.call(self._provider.order, order_id)
        return self._result(order, order.get("updated_at"))

    def cancel(self, order_id: str) -> Result:
        """Ask for the cancellation, then answer with the order as the broker now has it."""
        self._gate.call(self._provider.cancel_order, order_id, retry=False)
        return self.order(order_id)

    def place(self, order: OrderRequest, client: str, request_id: str) -> Result:
        """Place ``order`` at most once; ``client`` (a key prefix) and ``request_id`` go to the audit line."""
        order = {**order, "client_order_id": order.get("client_order_id") or f"opitios-{uuid.uuid4().hex}"}
        claim = f"order:{order['client_order_id']}"
        token, owned = self._flight.claim([claim])
        try:
            if not owned:
                placed, replayed = self._after_the_other(order, claim), True
            else:
                placed, replayed = self._place_once(order)
        except ProviderError as error:
            self._audit(order, client, request_id, f"{error.code}: {error.message}")
            raise
        finally:
            self._flight.release(token, owned)
        self._audit(order, client, request_id, f"{'replayed' if replayed else 'placed'} {placed.get('id')} {placed.get('status')}")
        return self._result(placed, placed.get("updated_at"), replayed)

    def _place_once(self, order: OrderRequest) -> tuple[dict, bool]:
        try:
            return self._gate.call(self._provider.place_order, order, retry=False), False
        except DuplicateClientOrderId:
            return self._gate.call(self._provider.order_by_client_id, order["client_order_id"]), True
        except UpstreamTimeout as error:
            # The order may or may not exist now: never place it again, tell the client how to look.
            raise UpstreamTimeout(
                "The broker did not answer in time; the order may exist: look it up by client_order_id before retrying",
                details={**error.details, "client_order_id": order["client_order_id"]},
            ) from None

    def _after_the_other(self, order: OrderRequest, claim: str) -> dict:
        """Another request with this client_order_id is placing it: wait for it, then read the order."""
        deadline = time.monotonic() + self._wait_seconds
        while self._flight.held(claim) and time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)
        return self._gate.call(self._provider.order_by_client_id, order["client_order_id"])

    @staticmethod
    def _audit(order: OrderRequest, client: str, request_id: str, outcome: str) -> None:
        audit.info(
            "order request_id=%s key=%s symbol=%s side=%s qty=%s type=%s client_order_id=%s outcome=%s",
            request_id, client, order["symbol"], order["side"], order["qty"], order["type"],
            order["client_order_id"], outcome,
        )
