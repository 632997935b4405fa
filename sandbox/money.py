"""Exact decimals for the trading API: reading JSON numbers or numeric strings, and Alpaca's string forms."""
from datetime import datetime
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation

from .times import UTC

CENT = Decimal("0.01")
ZERO = Decimal(0)


def parse(value) -> Decimal | None:
    """A finite Decimal from a JSON number or numeric string (floats via their shortest repr); else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        return None
    try:
        number = Decimal(repr(value) if isinstance(value, float) else str(value).strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def text(number: Decimal) -> str:
    """Shortest plain form, like Go's decimal.String(): ``"1.5"``, ``"200000"``, never an exponent."""
    normal = number.normalize()
    return format(normal if normal != 0 else ZERO, "f")


def cents(number: Decimal) -> Decimal:
    """Rounded half-up to the cent."""
    return number.quantize(CENT, rounding=ROUND_HALF_UP)


def cents_text(number: Decimal) -> str:
    """Always two decimals: ``"1925.70"``."""
    return format(cents(number) + 0, "f")


def six_text(number: Decimal) -> str:
    """Six decimals at most (ratios, average prices): ``"0.038113"``, ``"185.5"``."""
    return text(number.quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP))


def floor9(number: Decimal) -> Decimal:
    """Cut to nine decimals, the finest quantity Alpaca keeps."""
    return number.quantize(Decimal("1e-9"), rounding=ROUND_DOWN)


def stamp(moment: datetime) -> str:
    """Trading-API time: UTC with exactly six fractional digits and ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
