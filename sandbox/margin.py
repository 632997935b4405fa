"""The account's figures from cash, valued positions and open buys, under a simplified Reg T margin."""
from dataclasses import dataclass
from decimal import Decimal

from . import money
from .positions import View

_ZERO = Decimal(0)


@dataclass(frozen=True)
class Figures:
    """The account's numbers at one instant, with the position views they were computed from."""

    cash: Decimal
    long_mv: Decimal
    short_mv: Decimal
    initial_margin: Decimal
    maintenance_margin: Decimal
    buying_power: Decimal
    options_buying_power: Decimal
    views: tuple[View, ...]

    @property
    def equity(self) -> Decimal:
        return self.cash + self.long_mv + self.short_mv


def _total(values) -> Decimal:
    return sum(values, _ZERO)


def figures(cash: Decimal, views: list[View], stock_buys: Decimal, option_buys: Decimal) -> Figures:
    """``stock_buys``/``option_buys``: what the open buy orders would spend.

    Initial margin is 50% of stock market value (long or short) plus 100% of option market value;
    maintenance margin is 25% of long stock, 30% of short stock and 100% of options. Excess equity is
    equity - initial margin; buying power is 2 x excess less open stock buys and 2 x open option buys,
    and options (non-marginable) buying power is half of that.
    """
    values = [(v.market_value, v.asset.is_option) for v in views]
    long_mv = _total(mv for mv, _ in values if mv > 0)
    short_mv = _total(mv for mv, _ in values if mv < 0)
    stock_long = _total(mv for mv, option in values if mv > 0 and not option)
    stock_short = _total(-mv for mv, option in values if mv < 0 and not option)
    options = _total(abs(mv) for mv, option in values if option)
    initial = money.cents((stock_long + stock_short) / 2 + options)
    maintenance = money.cents(stock_long * Decimal("0.25") + stock_short * Decimal("0.3") + options)
    excess = cash + long_mv + short_mv - initial
    buying_power = max(_ZERO, 2 * excess - stock_buys - 2 * option_buys)
    return Figures(cash, long_mv, short_mv, initial, maintenance, money.cents(buying_power),
                   money.cents(buying_power / 2), tuple(views))
