"""Option quotes and chains: validated arguments → cache → provider → data with provenance."""

from __future__ import annotations

from opitios.cache import chain_key, option_quote_key
from opitios.envelope import Result
from opitios.errors import ApiError
from opitios.schemas.options import ChainSchema, OptionQuoteSchema
from opitios.services.cached import Answer
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

    def _quotes(self, symbols: list[str]) -> dict[str, Answer]:
        keys = {option_quote_key(symbol, self._feed): symbol for symbol in symbols}
        answers = self._cached.many(keys, self._provider.option_quotes, quote_timestamp, "option_quote")
        return {keys[key]: answer for key, answer in answers.items()}

    def quote(self, symbol: str) -> Result:
        answer = self._quotes([symbol])[symbol]
        quote = answer.entry.value
        if quote is None:
            raise _contract_not_found(symbol)
        return self._result(_dump(quote), OPTION_QUOTES, answer.entry.data_timestamp, [answer])

    def quotes(self, symbols: list[str]) -> Result:
        answers = self._quotes(symbols)
        found = {symbol: answer.entry.value for symbol, answer in answers.items() if answer.entry.value is not None}
        data, data_timestamp = batch(symbols, found, _dump, _contract_not_found)
        return self._result(data, OPTION_QUOTES, data_timestamp, answers.values())

    def chain(self, args: dict) -> Result:
        filters = {name: _text(args.get(name)) for name in CHAIN_FILTERS}
        underlying = args["underlying_symbol"]
        query = {"underlying_symbol": underlying, "limit": args["limit"], "page_token": args.get("page_token"), **filters}
        key = chain_key(query, self._feed)
        answer = self._cached.many(
            {key: "page"}, lambda _: {"page": self._provider.option_chain(query)}, _oldest_quote_time, "option_chain"
        )[key]
        page = answer.entry.value
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
        return self._result(data, OPTION_CHAIN, answer.entry.data_timestamp, [answer])


def _oldest_quote_time(page: dict) -> str | None:
    return oldest(quote_timestamp(quote) for quote in page["contracts"])


def _text(value) -> str | None:
    """Dates become ISO strings; everything else is already a string or None."""
    return value.isoformat() if hasattr(value, "isoformat") else value
