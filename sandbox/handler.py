"""What a route handler receives (Call) and may answer instead of a 200 JSON body (Reply)."""
from dataclasses import dataclass

from .book import Book
from .state import Context


@dataclass(frozen=True)
class Call:
    """One API request as a handler sees it; ``param`` is the path segment a route captured."""

    args: dict
    ctx: Context
    body: bytes
    param: str
    book: Book


@dataclass(frozen=True)
class Reply:
    """A status other than 200, or no body at all (``body`` None with 204)."""

    status: int
    body: object = None
