"""Opaque page tokens: base64 of the position where the next page starts."""
import base64

from .errors import ApiError


def encode(*parts: str) -> str:
    return base64.b64encode("|".join(parts).encode()).decode()


def decode(token: str, count: int) -> list[str]:
    """The ``count`` parts of a token made by ``encode``; 400 when it is not one."""
    try:
        parts = base64.b64decode(token, validate=True).decode().split("|")
    except ValueError:  # not base64 (or not ASCII at all), or not UTF-8 inside
        parts = []
    if len(parts) != count:
        raise ApiError(400, "invalid page token")
    return parts
