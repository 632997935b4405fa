"""Symbol rules are decided locally, and an option's identity comes from its OCC symbol alone."""

import re
from datetime import date

import pytest

from opitios.symbols import OCC_PATTERN, contract_identity, option_symbol, stock_symbol


@pytest.mark.parametrize("text, expected", [("AAPL", "AAPL"), ("aapl", "AAPL"), ("BRK.B", "BRK.B"), ("brk.b", "BRK.B"), (" spy ", "SPY")])
def test_stock_symbols_are_upper_cased(text, expected):
    assert stock_symbol(text) == expected


# "ß" and "ﬁ" upper-case to ASCII ("SS", "FI"); "٢" is an Arabic-Indic digit.
@pytest.mark.parametrize("text", ["", "1ABC", "zz$", "ABCDEFGHIJK", "AB-C", ".A", None, 5, "ß", "ﬁ", "A٢"])
def test_malformed_stock_symbols_are_refused(text):
    assert stock_symbol(text) is None


@pytest.mark.parametrize("text", ["AAPL240216C00190000", "aapl240216p00190000", "SPY240607C00530500", "A240216C00001000"])
def test_occ_symbols_are_accepted(text):
    assert option_symbol(text) == text.upper()


@pytest.mark.parametrize(
    "text",
    [
        "AAPL", "AAPL240216X00190000", "AAPL241316C00190000", "AAPL240230C00190000", "AAPL24021C00190000",
        "TOOLONGR240216C00190000", "A000000C00000000", "AAPL230229C00190000", "AAPL٢40216C00190000", "ßPY240216C00190000",
    ],
)
def test_malformed_occ_symbols_are_refused(text):
    assert option_symbol(text) is None


def test_contract_identity_is_parsed_from_the_occ_symbol():
    assert contract_identity("AAPL240216C00190000") == {
        "underlying_symbol": "AAPL",
        "expiration_date": "2024-02-16",
        "option_type": "call",
        "strike_price": 190.0,
    }
    assert contract_identity("SPY240607P00530500")["strike_price"] == 530.5
    assert contract_identity("SPY240607P00530500")["option_type"] == "put"


def _real_day(yymmdd: str) -> bool:
    try:
        date(2000 + int(yymmdd[:2]), int(yymmdd[2:4]), int(yymmdd[4:]))
    except ValueError:
        return False
    return True


def test_the_occ_pattern_takes_exactly_the_real_expiration_days():
    """The pattern the OpenAPI description states is the whole rule: no date check is left to code beside it."""
    pattern = re.compile(OCC_PATTERN)
    for yymmdd in (f"{yy:02}{mm:02}{dd:02}" for yy in range(100) for mm in range(14) for dd in range(33)):
        assert bool(pattern.fullmatch(f"SPY{yymmdd}P00530500")) == _real_day(yymmdd), yymmdd
