"""Trading through alpaca-py's TradingClient: account, positions and orders, passed through as Alpaca sent them.

Orders are posted with the client's own ``post`` and a body of exact decimal
strings (Alpaca accepts numbers as strings), so no price or quantity ever
passes through a float. Placement is never retried.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from alpaca.common.exceptions import APIError
from alpaca.trading.enums import QueryOrderStatus
from alpaca.trading.requests import GetOrdersRequest

from providers.alpaca.clients import AlpacaClients
from providers.alpaca.errors import translated, upstream_message
from providers.base import DuplicateClientOrderId, OrderNotFound, OrderRejected, OrderRequest, UpstreamInvalidResponse

_ORDER_FIELDS = ("symbol", "qty", "side", "type", "time_in_force", "limit_price", "stop_price", "client_order_id")


@contextmanager
def _order_errors(what: str, order_id: str | None = None) -> Iterator[None]:
    """Alpaca's answers about one order: 404 is no such order, 403/422 a refusal with its reason.

    Any other failure takes the generic upstream mapping of ``translated``.
    """
    with translated(what):
        try:
            yield
        except APIError as error:
            said = upstream_message(error) or "no reason given"
            details = {"upstream_status": error.status_code, "upstream_message": said}
            if order_id is not None:
                details["order_id"] = order_id
            if error.status_code == 404:
                raise OrderNotFound("The broker has no such order", details=details) from None
            if error.status_code == 422 and "client_order_id must be unique" in said:
                raise DuplicateClientOrderId(said, details=details) from None
            if error.status_code in (403, 422):
                raise OrderRejected(f"The broker refused {what}: {said}", details=details) from None
            raise


def _object(body: Any, what: str) -> dict:
    if not isinstance(body, dict):
        raise UpstreamInvalidResponse(f"The broker sent {what} that is not an object")
    return body


def _list(body: Any, what: str) -> list:
    if not isinstance(body, list):
        raise UpstreamInvalidResponse(f"The broker sent {what} that is not a list")
    return body


class AlpacaTrading:
    """The TradingProvider half of the Alpaca provider."""

    clients: AlpacaClients

    def account(self) -> dict[str, Any]:
        with translated("the account"):
            return _object(self.clients.trading.get_account(), "an account")

    def positions(self) -> list[dict[str, Any]]:
        with translated("the positions"):
            return _list(self.clients.trading.get_all_positions(), "positions")

    def orders(self, status: str, limit: int) -> list[dict[str, Any]]:
        request = GetOrdersRequest(status=QueryOrderStatus(status), limit=limit)
        with translated("the orders"):
            return _list(self.clients.trading.get_orders(request), "orders")

    def order(self, order_id: str) -> dict[str, Any]:
        with _order_errors("the order", order_id):
            return _object(self.clients.trading.get_order_by_id(order_id), "an order")

    def order_by_client_id(self, client_order_id: str) -> dict[str, Any]:
        with _order_errors("the order"):
            return _object(self.clients.trading.get_order_by_client_id(client_order_id), "an order")

    def place_order(self, order: OrderRequest) -> dict[str, Any]:
        body = {name: order[name] for name in _ORDER_FIELDS if order.get(name) is not None}
        with _order_errors("the order"):
            return _object(self.clients.trading.post("/orders", body), "an order")

    def cancel_order(self, order_id: str) -> None:
        with _order_errors("the cancellation", order_id):
            self.clients.trading.cancel_order_by_id(order_id)
