"""The paper account's cash, positions and orders behind one lock, seeded on first use after a reset."""
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from . import assets, catalog, margin, money, options
from .errors import INVALID_ORDER, ApiError
from .margin import Figures
from .order_entry import Ticket
from .orders import Order, body as order_body
from .positions import view
from .times import ny_date

OPEN = frozenset({"new", "accepted", "partially_filled", "pending_new", "pending_cancel", "pending_replace",
                  "accepted_for_bidding", "held", "calculated", "stopped", "suspended", "pending_review"})
SEED_EXCESS = Decimal(100000)
_SEED = (("AAPL", Decimal(10), Decimal("185.5")), ("TSLA", Decimal(-5), Decimal("182.4")))


@dataclass
class Holding:
    """One position; ``qty`` is negative for a short."""

    asset: assets.Asset
    qty: Decimal
    avg: Decimal


class Book:
    """Everything trading changes; every method is atomic.

    Seed, priced at the sandbox clock of the first trading call after a reset: AAPL 10 long at 185.5,
    TSLA 5 short at 182.4, and 2 contracts of the at-the-money AAPL call of the nearest expiration,
    bought 10% below its mark. Cash is set so that excess equity (equity - initial margin) is exactly
    100000: buying power "200000" and options buying power "100000" (see margin.figures).
    """

    def __init__(self):
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._seeded = False
            self._orders: dict[str, Order] = {}
            self._client_ids: dict[str, str] = {}
            self._holdings: dict[str, Holding] = {}
            self._cash = Decimal(0)
            self._opening: dict[str, Decimal] = {}  # last_equity, sma, last_maintenance_margin
            self._ticks = 0

    # --- seeding and valuation ---------------------------------------------------------------------

    def _seed(self, now: datetime) -> None:
        if self._seeded:
            return
        self._seeded = True
        for symbol, qty, avg in _SEED:
            self._holdings[symbol] = Holding(assets.held(symbol), qty, avg)
        option = assets.held(_seed_option(now))
        mark = assets.marks(option, now).last
        self._holdings[option.symbol] = Holding(option, Decimal(2), money.cents(mark * Decimal("0.9")))
        start = self._figures(now)
        self._cash = SEED_EXCESS + start.initial_margin - start.long_mv - start.short_mv
        lastday = sum((h.qty * assets.marks(h.asset, now).lastday * h.asset.multiplier
                       for h in self._holdings.values()), Decimal(0))
        settled = self._figures(now)
        self._opening = {"last_equity": money.cents(self._cash + lastday), "sma": settled.equity,
                         "last_maintenance_margin": settled.maintenance_margin}

    def _tick(self, now: datetime) -> datetime:
        """The frozen clock plus one microsecond per event, so order stamps are distinct and ordered."""
        self._ticks += 1
        return now + timedelta(microseconds=self._ticks)

    def _cost(self, order: Order, now: datetime) -> Decimal:
        """What a buy would spend: qty x (limit, stop, or ask) x multiplier, or its notional."""
        if order.notional is not None:
            return order.notional
        price = order.limit_price or order.stop_price
        if price is None:
            quote = assets.marks(order.asset, now)
            price = quote.ask or quote.last
        return order.qty * price * order.asset.multiplier

    def _figures(self, now: datetime) -> Figures:
        views = [view(h, assets.marks(h.asset, now), self._closing_qty(h)) for h in self._holdings.values()]
        buys = {False: Decimal(0), True: Decimal(0)}  # by is_option
        for order in self._orders.values():
            if order.status in OPEN and order.side == "buy":
                buys[order.asset.is_option] += self._cost(order, now)
        return margin.figures(self._cash, views, buys[False], buys[True])

    def _closing_qty(self, holding: Holding) -> Decimal:
        """Quantity of the holding already promised to open orders that would reduce it."""
        closing = "sell" if holding.qty > 0 else "buy"
        return sum((o.qty or Decimal(0) for o in self._orders.values()
                    if o.status in OPEN and o.side == closing and o.asset.symbol == holding.asset.symbol),
                   Decimal(0))

    # --- reading -------------------------------------------------------------------------------------

    def figures(self, now: datetime) -> tuple[Figures, dict]:
        """The account's numbers now, and those fixed at the seed."""
        with self._lock:
            self._seed(now)
            return self._figures(now), dict(self._opening)

    def positions(self, now: datetime) -> list:
        """Position views, by symbol."""
        with self._lock:
            self._seed(now)
            return sorted(self._figures(now).views, key=lambda v: v.asset.symbol)

    def orders(self, now: datetime, keep) -> list[dict]:
        """Bodies of the orders ``keep(order)`` accepts, oldest first."""
        with self._lock:
            self._seed(now)
            ordered = sorted(self._orders.values(), key=lambda o: (o.submitted_at, o.seq))
            return [order_body(o) for o in ordered if keep(o)]

    def order(self, now: datetime, order_id: str | None = None, client_order_id: str | None = None) -> dict:
        """One order by id or client_order_id; 404 when there is none."""
        with self._lock:
            self._seed(now)
            if client_order_id is not None:
                order_id = self._client_ids.get(client_order_id)
            found = self._orders.get(order_id)
            if found is None:
                raise ApiError(404, "order not found")
            return order_body(found)

    # --- changing --------------------------------------------------------------------------------------

    def submit(self, ticket: Ticket, now: datetime, market_open: bool) -> dict:
        """Place an order atomically: uniqueness, market hours and money are checked under the lock.

        A buy is refused (403) when its cost (qty x limit price, stop price, or the ask for a market
        order; x100 for options) exceeds buying power (stocks) or options buying power (options).
        Sells are never refused for money: shorting is enabled.

        Simplification: a market order is refused (403) while the sandbox clock says the market is
        closed, where Alpaca would queue it for the next session. While it is open a market order fills
        at once, in full, at the ask (buys) or bid (sells), unless that side of the quote is missing:
        then it rests. Limit and stop orders always rest (status "new") until canceled, whatever their
        time in force; nothing expires.
        """
        with self._lock:
            self._seed(now)
            if ticket.client_order_id in self._client_ids:
                raise ApiError(422, "client_order_id must be unique", INVALID_ORDER)
            if ticket.type == "market" and not market_open:
                raise ApiError(403, "market orders are not accepted while the market is closed")
            stamp = self._tick(now)
            order = Order.from_ticket(ticket, stamp, len(self._orders), self._intent(ticket))
            if ticket.side == "buy":
                figures = self._figures(now)
                room = figures.options_buying_power if ticket.asset.is_option else figures.buying_power
                if self._cost(order, now) > room:
                    raise ApiError(403, "insufficient buying power")
            self._orders[order.id] = order
            self._client_ids[order.client_order_id] = order.id
            if ticket.type == "market":
                quote = assets.marks(ticket.asset, now)
                price = quote.ask if ticket.side == "buy" else quote.bid
                if price is not None:
                    self._fill(order, price, stamp)
            return order_body(order, fresh=True)

    def _intent(self, ticket: Ticket) -> str:
        if ticket.position_intent:
            return ticket.position_intent
        holding = self._holdings.get(ticket.asset.symbol)
        if ticket.side == "buy":
            return "buy_to_close" if holding is not None and holding.qty < 0 else "buy_to_open"
        return "sell_to_close" if holding is not None and holding.qty > 0 else "sell_to_open"

    def _fill(self, order: Order, price: Decimal, stamp: datetime) -> None:
        qty = order.qty if order.qty is not None else money.floor9(order.notional / price)
        order.status, order.filled_qty, order.filled_avg_price = "filled", qty, price
        order.filled_at = order.updated_at = stamp
        signed = qty if order.side == "buy" else -qty
        self._cash -= money.cents(signed * price * order.asset.multiplier)  # settles in whole cents
        holding = self._holdings.get(order.asset.symbol)
        if holding is None:
            self._holdings[order.asset.symbol] = Holding(order.asset, signed, price)
            return
        after = holding.qty + signed
        if after == 0:
            del self._holdings[order.asset.symbol]
        elif holding.qty * signed > 0:  # adding to the position
            holding.avg = (holding.qty * holding.avg + signed * price) / after
        elif holding.qty * after < 0:  # flipped from long to short or back
            holding.avg = price
        holding.qty = after

    def cancel(self, now: datetime, order_id: str) -> None:
        """Cancel one open order; 404 unknown, 422 (42210000) when it is already done."""
        with self._lock:
            self._seed(now)
            order = self._orders.get(order_id)
            if order is None:
                raise ApiError(404, "order not found")
            if order.status not in OPEN:
                raise ApiError(422, f'order is already in "{order.status}" state')
            order.status = "canceled"
            order.canceled_at = order.updated_at = self._tick(now)

    def cancel_all(self, now: datetime) -> list[str]:
        """Cancel every open order; their ids, oldest first."""
        with self._lock:
            self._seed(now)
            done = []
            for order in sorted(self._orders.values(), key=lambda o: o.seq):
                if order.status in OPEN:
                    order.status = "canceled"
                    order.canceled_at = order.updated_at = self._tick(now)
                    done.append(order.id)
            return done


def _seed_option(now: datetime) -> str:
    """The AAPL call at the money of the nearest listed expiration at ``now``."""
    center = round(catalog.STOCKS["AAPL"].price / 5) * 5
    return options.occ_symbol("AAPL", options.expirations(ny_date(now))[0], "C", center)
