"""Symbol rules (CONTRACT §4), decided without an upstream call, and the OCC contract identity."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

STOCK_SYMBOL = re.compile(r"[A-Z][A-Z0-9.]{0,9}")
# OCC: root (1-6), expiration YYMMDD, C or P, strike × 1000 as 8 digits.
OCC_SYMBOL = re.compile(r"(?P<root>[A-Z][A-Z0-9]{0,5})(?P<date>\d{6})(?P<kind>[CP])(?P<strike>\d{8})")


def stock_symbol(text: object) -> str | None:
    """The canonical (upper-case) stock symbol, or ``None`` when ``text`` is not one."""
    if not isinstance(text, str):
        return None
    symbol = text.strip().upper()
    return symbol if STOCK_SYMBOL.fullmatch(symbol) else None


def option_symbol(text: object) -> str | None:
    """The canonical OCC contract symbol, or ``None`` when ``text`` is not one (a real date included)."""
    if not isinstance(text, str):
        return None
    symbol = text.strip().upper()
    match = OCC_SYMBOL.fullmatch(symbol)
    if match is None:
        return None
    try:
        _expiration(match["date"])
    except ValueError:
        return None
    return symbol


def _expiration(yymmdd: str) -> date:
    return date(2000 + int(yymmdd[:2]), int(yymmdd[2:4]), int(yymmdd[4:]))


def contract_identity(symbol: str) -> dict:
    """The identity of a contract, parsed from its OCC symbol: the one thing the contract lets us derive."""
    match = OCC_SYMBOL.fullmatch(symbol)
    if match is None:
        raise ValueError(f"not an OCC symbol: {symbol!r}")
    return {
        "underlying_symbol": match["root"],
        "expiration_date": _expiration(match["date"]).isoformat(),
        "option_type": "call" if match["kind"] == "C" else "put",
        "strike_price": float(Decimal(match["strike"]) / 1000),
    }
