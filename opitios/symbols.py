"""Symbol rules (CONTRACT §4), decided without an upstream call, and the OCC contract identity.

The patterns are written once, case-insensitive and without named groups, so the OpenAPI
description states exactly the rule that decides (opitios/openapi.py uses them as they are).
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

STOCK_PATTERN = r"[A-Za-z][A-Za-z0-9.]{0,9}"
# OCC: root (1-6), expiration YYMMDD (a real day of 2000-2099), C or P, strike × 1000 as 8 digits.
_ROOT, _RIGHT, _STRIKE = r"[A-Za-z][A-Za-z0-9]{0,5}", "[CPcp]", "[0-9]{8}"
_YYMMDD = (
    r"(?:[0-9]{2}(?:(?:0[13578]|1[02])(?:0[1-9]|[12][0-9]|3[01])|(?:0[469]|11)(?:0[1-9]|[12][0-9]|30)"
    r"|02(?:0[1-9]|1[0-9]|2[0-8]))|(?:[02468][048]|[13579][26])0229)"  # 29 February of leap years only
)
OCC_PATTERN = _ROOT + _YYMMDD + _RIGHT + _STRIKE

STOCK_SYMBOL = re.compile(STOCK_PATTERN)
OCC_SYMBOL = re.compile(f"(?P<root>{_ROOT})(?P<date>{_YYMMDD})(?P<kind>{_RIGHT})(?P<strike>{_STRIKE})")


def stock_symbol(text: object) -> str | None:
    """The canonical (upper-case) stock symbol, or ``None`` when ``text`` is not one."""
    return _canonical(text, STOCK_SYMBOL)


def option_symbol(text: object) -> str | None:
    """The canonical OCC contract symbol, or ``None`` when ``text`` is not one (a real date included)."""
    return _canonical(text, OCC_SYMBOL)


def _canonical(text: object, pattern: re.Pattern) -> str | None:
    # Matched before upper-casing: str.upper() turns some non-ASCII letters into ASCII ones ("ß" → "SS").
    if not isinstance(text, str):
        return None
    symbol = text.strip()
    return symbol.upper() if pattern.fullmatch(symbol) else None


def _expiration(yymmdd: str) -> date:
    return date(2000 + int(yymmdd[:2]), int(yymmdd[2:4]), int(yymmdd[4:]))


def contract_identity(symbol: str) -> dict:
    """The identity of a contract, parsed from its OCC symbol: the one thing the contract lets us derive."""
    match = OCC_SYMBOL.fullmatch(symbol)
    if match is None:
        raise ValueError(f"not an OCC symbol: {symbol!r}")
    return {
        "underlying_symbol": match["root"].upper(),
        "expiration_date": _expiration(match["date"]).isoformat(),
        "option_type": "call" if match["kind"].upper() == "C" else "put",
        "strike_price": float(Decimal(match["strike"]) / 1000),
    }
