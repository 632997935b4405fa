"""One order's record and its wire body: every key of Alpaca's order object, numbers as strings."""
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from . import money
from .assets import Asset
from .order_entry import Ticket
from .times import is_weekday, next_open_after, ny_date, session_close

GTC_DAYS = 90


@dataclass
class Order:
    """A placed order; ``status`` is "new" while it rests (its POST answer says "accepted")."""

    id: str
    seq: int
    client_order_id: str
    asset: Asset
    qty: Decimal | None
    notional: Decimal | None
    side: str
    type: str
    time_in_force: str
    limit_price: Decimal | None
    stop_price: Decimal | None
    extended_hours: bool
    position_intent: str
    submitted_at: datetime
    updated_at: datetime
    expires_at: datetime
    status: str = "new"
    filled_qty: Decimal = Decimal(0)
    filled_avg_price: Decimal | None = None
    filled_at: datetime | None = None
    canceled_at: datetime | None = None

    @classmethod
    def from_ticket(cls, ticket: Ticket, stamp: datetime, seq: int, intent: str) -> "Order":
        return cls(str(uuid.uuid4()), seq, ticket.client_order_id, ticket.asset, ticket.qty, ticket.notional,
                   ticket.side, ticket.type, ticket.time_in_force, ticket.limit_price, ticket.stop_price,
                   ticket.extended_hours, intent, stamp, stamp, _expiry(ticket.time_in_force, stamp))


def _expiry(tif: str, stamp: datetime) -> datetime:
    """Day-type orders end at the close of the session they belong to; gtc after 90 days."""
    day = ny_date(stamp)
    if tif == "gtc":
        return session_close(day + timedelta(days=GTC_DAYS))
    if is_weekday(day) and stamp < session_close(day):
        return session_close(day)
    return session_close(ny_date(next_open_after(stamp)))


def _stamp(moment: datetime | None) -> str | None:
    return None if moment is None else money.stamp(moment)


def _text(number: Decimal | None) -> str | None:
    return None if number is None else money.text(number)


def body(order: Order, fresh: bool = False) -> dict:
    """The order as Alpaca sends it; ``fresh`` for the POST answer, where a resting order is "accepted"."""
    status = "accepted" if fresh and order.status == "new" else order.status
    return {
        "id": order.id,
        "client_order_id": order.client_order_id,
        "created_at": money.stamp(order.submitted_at),
        "updated_at": money.stamp(order.updated_at),
        "submitted_at": money.stamp(order.submitted_at),
        "filled_at": _stamp(order.filled_at),
        "expired_at": None,
        "canceled_at": _stamp(order.canceled_at),
        "failed_at": None,
        "replaced_at": None,
        "replaced_by": None,
        "replaces": None,
        "asset_id": order.asset.id,
        "symbol": order.asset.symbol,
        "asset_class": order.asset.asset_class,
        "notional": _text(order.notional),
        "qty": _text(order.qty),
        "filled_qty": money.text(order.filled_qty),
        "filled_avg_price": _text(order.filled_avg_price),
        "order_class": "",
        "order_type": order.type,
        "type": order.type,
        "side": order.side,
        "position_intent": order.position_intent,
        "time_in_force": order.time_in_force,
        "limit_price": _text(order.limit_price),
        "stop_price": _text(order.stop_price),
        "status": status,
        "extended_hours": order.extended_hours,
        "legs": None,
        "trail_percent": None,
        "trail_price": None,
        "hwm": None,
        "subtag": None,
        "source": None,
        "expires_at": money.stamp(order.expires_at),
    }
