"""A position valued at the current marks, and its wire body (Alpaca's keys, numbers as strings)."""
from dataclasses import dataclass
from decimal import Decimal

from . import money
from .assets import Asset, Marks


@dataclass(frozen=True)
class View:
    """A snapshot of one holding (signed ``qty``, average entry ``avg``) with the figures of its marks."""

    asset: Asset
    qty: Decimal
    avg: Decimal
    marks: Marks
    qty_available: Decimal
    market_value: Decimal
    cost_basis: Decimal

    @property
    def unrealized_pl(self) -> Decimal:
        return self.market_value - self.cost_basis


def view(holding, marks: Marks, closing_qty: Decimal) -> View:
    """``holding`` has asset, qty and avg; market value and cost basis are signed like the quantity and
    rounded to the cent."""
    size = holding.asset.multiplier
    available = max(abs(holding.qty) - closing_qty, Decimal(0))
    qty = holding.qty
    return View(holding.asset, qty, holding.avg, marks, available if qty > 0 else -available,
                money.cents(qty * marks.last * size), money.cents(qty * holding.avg * size))


def _ratio(part: Decimal, whole: Decimal) -> str:
    return money.six_text(part / abs(whole)) if whole else "0"


def body(v: View) -> dict:
    """The position as GET /v2/positions sends it."""
    asset, marks = v.asset, v.marks
    intraday = money.cents(v.qty * (marks.last - marks.lastday) * asset.multiplier)
    return {
        "asset_id": asset.id,
        "symbol": asset.symbol,
        "exchange": asset.exchange,
        "asset_class": asset.asset_class,
        "asset_marginable": not asset.is_option,
        "qty": money.text(v.qty),
        "qty_available": money.text(v.qty_available),
        "avg_entry_price": money.six_text(v.avg),
        "side": "long" if v.qty > 0 else "short",
        "market_value": money.cents_text(v.market_value),
        "cost_basis": money.cents_text(v.cost_basis),
        "unrealized_pl": money.cents_text(v.unrealized_pl),
        "unrealized_plpc": _ratio(v.unrealized_pl, v.cost_basis),
        "unrealized_intraday_pl": money.cents_text(intraday),
        "unrealized_intraday_plpc": _ratio(intraday, v.qty * marks.lastday * asset.multiplier),
        "current_price": money.text(marks.last),
        "lastday_price": money.text(marks.lastday),
        "change_today": _ratio(marks.last - marks.lastday, marks.lastday),
    }
