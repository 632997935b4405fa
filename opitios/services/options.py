"""Option quotes and chains: validated arguments → provider → data with provenance."""

from __future__ import annotations

from opitios.envelope import Result
from opitios.errors import ApiError
from opitios.schemas.options import ChainSchema, OptionQuoteSchema
from opitios.services.results import OPTION_CHAIN, OPTION_QUOTES, MarketDataService, batch, not_found, oldest, quote_timestamp
from opitios.symbols import contract_identity

_quote_schema = OptionQuoteSchema()
_chain_schema = ChainSchema()

CHAIN_FILTERS = ("expiration_date", "expiration_date_gte", "expiration_date_lte", "option_type", "min_strike", "max_strike")


def _contract_not_found(symbol: str) -> ApiError:
    return not_found("OPTION_CONTRACT_NOT_FOUND", "option contract", symbol)


def _identified(quote: dict) -> dict:
    """An option quote with the contract's identity, which the OCC symbol itself carries."""
    return {**quote, **contract_identity(quote["symbol"])}


def _dump(quote: dict) -> dict:
    return _quote_schema.dump(_identified(quote))


class OptionService(MarketDataService):
    """Option quotes (one or many contracts, one upstream call) and pages of a chain."""

    feed_kind = "option"

    def quote(self, symbol: str) -> Result:
        quote = self._provider.option_quotes([symbol]).get(symbol)
        if quote is None:
            raise _contract_not_found(symbol)
        return self._result(_dump(quote), OPTION_QUOTES, quote_timestamp(quote))

    def quotes(self, symbols: list[str]) -> Result:
        self._check_batch(symbols)
        found = self._provider.option_quotes(symbols)
        data, data_timestamp = batch(symbols, found, _dump, _contract_not_found)
        return self._result(data, OPTION_QUOTES, data_timestamp)

    def chain(self, args: dict) -> Result:
        filters = {name: _text(args.get(name)) for name in CHAIN_FILTERS}
        underlying = args["underlying_symbol"]
        page = self._provider.option_chain(
            {"underlying_symbol": underlying, "limit": args["limit"], "page_token": args.get("page_token"), **filters}
        )
        contracts = page["contracts"]
        if not contracts:
            raise ApiError(
                "OPTIONS_CHAIN_UNAVAILABLE",
                f"No real option chain data for {underlying} with these filters",
                details={"underlying_symbol": underlying, "filters": filters},
            )
        identified = [_identified(quote) for quote in contracts]
        token = page["next_page_token"]
        data = _chain_schema.dump(
            {
                "underlying_symbol": underlying,
                "expiration_dates": sorted({contract["expiration_date"] for contract in identified}),
                "contracts": identified,
                "count": len(identified),
                "filters_applied": {name: value for name, value in filters.items() if value is not None},
                "page_info": {"has_more": token is not None, "next_page_token": token},
            }
        )
        return self._result(data, OPTION_CHAIN, oldest(quote_timestamp(quote) for quote in contracts))


def _text(value) -> str | None:
    """Dates become ISO strings; everything else is already a string or None."""
    return value.isoformat() if hasattr(value, "isoformat") else value
