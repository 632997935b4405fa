"""Option quotes and chains: validated arguments → cache → provider → data with provenance."""

from __future__ import annotations

from opitios.api_errors import ApiError
from opitios.data_classes import CHAIN_FILTERS, OPTION_CHAIN, OPTION_QUOTE
from opitios.services.results import MarketDataService, Result, not_found


def _contract_not_found(symbol: str) -> ApiError:
    return not_found("OPTION_CONTRACT_NOT_FOUND", "option contract", symbol)


class OptionService(MarketDataService):
    """Option quotes (one or many contracts, one upstream call) and pages of a chain."""

    feed_kind = "option"

    def quote(self, symbol: str) -> Result:
        return self._quote(OPTION_QUOTE, symbol, self._provider.option_quotes, _contract_not_found)

    def quotes(self, symbols: list[str]) -> Result:
        return self._batch(OPTION_QUOTE, symbols, self._provider.option_quotes, _contract_not_found)

    def chain(self, args: dict) -> Result:
        filters = {name: _text(args.get(name)) for name in CHAIN_FILTERS}
        underlying = args["underlying_symbol"]
        query = {"underlying_symbol": underlying, "limit": args["limit"], "page_token": args.get("page_token"), **filters}
        answer = self._cached.page(OPTION_CHAIN, query, self._feed, self._provider.option_chain)
        if not answer.entry.value["count"]:
            raise ApiError(
                "OPTIONS_CHAIN_UNAVAILABLE",
                f"No real option chain data for {underlying} with these filters",
                details={"underlying_symbol": underlying, "filters": filters},
            )
        return self._answer(OPTION_CHAIN, answer)


def _text(value) -> str | None:
    """Dates become ISO strings; everything else is already a string or None."""
    return value.isoformat() if hasattr(value, "isoformat") else value
