"""Alpaca's error bodies: the data API sends {"message"}, the trading API {"code", "message"}."""
from http import HTTPStatus

DATA = "data"
TRADING = "trading"

_DATA_MESSAGES = {
    401: "unauthorized.",
    403: "subscription does not permit querying recent SIP data",
    404: "Not Found",
    429: "too many requests.",
}
_TRADING_MESSAGES = {
    401: "request is not authorized",
    403: "forbidden",
    429: "rate limit exceeded",
}


# Trading's code for a refused order body: Alpaca answers 422 with 40010001, not the derived 42210000.
INVALID_ORDER = 40010001


class ApiError(Exception):
    """A request the API refuses; ``message`` None means the family's standard wording, ``code`` None
    the trading code derived from the status."""

    def __init__(self, status: int, message: str | None = None, code: int | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code


def family(path: str) -> str:
    """Which API a path belongs to: stock and option data, or trading (the rest of /v2)."""
    if path.startswith("/v2/") and not path.startswith("/v2/stocks/"):
        return TRADING
    return DATA


def error_body(api: str, status: int, message: str | None = None, code: int | None = None) -> dict:
    """The body Alpaca sends with ``status``; trading codes are status x 100000 + 10000 (40110000)
    unless ``code`` says otherwise."""
    if api == TRADING:
        text = message or _TRADING_MESSAGES.get(status) or HTTPStatus(status).phrase.lower()
        return {"code": code or status * 100_000 + 10_000, "message": text}
    return {"message": message or _DATA_MESSAGES.get(status) or HTTPStatus(status).phrase.lower()}
