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


class ApiError(Exception):
    """A request the API refuses; ``message`` None means the family's standard wording."""

    def __init__(self, status: int, message: str | None = None):
        super().__init__(message)
        self.status = status
        self.message = message


def family(path: str) -> str:
    """Which API a path belongs to: stock and option data, or trading (the rest of /v2)."""
    if path.startswith("/v2/") and not path.startswith("/v2/stocks/"):
        return TRADING
    return DATA


def error_body(api: str, status: int, message: str | None = None) -> dict:
    """The body Alpaca sends with ``status``; trading codes are status x 100000 + 10000 (40110000)."""
    if api == TRADING:
        text = message or _TRADING_MESSAGES.get(status) or HTTPStatus(status).phrase.lower()
        return {"code": status * 100_000 + 10_000, "message": text}
    return {"message": message or _DATA_MESSAGES.get(status) or HTTPStatus(status).phrase.lower()}
