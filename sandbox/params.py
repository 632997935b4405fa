"""Query-parameter validation with the data API's 400 answers."""
import math
import re
from datetime import date, datetime

from .bars import Timeframe, parse_timeframe
from .errors import ApiError
from .times import parse_date, parse_query_time

STOCK_SYMBOL = re.compile(r"[A-Z][A-Z0-9.]{0,9}")
STOCK_FEEDS = ("iex", "sip", "delayed_sip", "otc", "boats", "overnight")
OPTION_FEEDS = ("opra", "indicative")


def symbols(args, pattern: re.Pattern) -> list[str]:
    """The comma-separated ``symbols``, de-duplicated in order; 400 when missing or malformed."""
    raw = args.get("symbols", "")
    names = [name for name in raw.split(",") if name] if raw else []
    if not names:
        raise ApiError(400, "missing symbols")
    for name in names:
        if not pattern.fullmatch(name):
            raise ApiError(400, f"invalid symbol: {name}")
    return list(dict.fromkeys(names))


def choice(args, name: str, allowed: tuple[str, ...]) -> str | None:
    """An optional enumerated parameter."""
    value = args.get(name)
    if value is None:
        return None
    if value not in allowed:
        raise ApiError(400, f"invalid {name}: {value}")
    return value


def limit(args, maximum: int, default: int) -> int:
    """``limit`` within 1..maximum."""
    value = args.get("limit")
    if value is None:
        return default
    if not re.fullmatch(r"\d{1,9}", value) or not 1 <= int(value) <= maximum:
        raise ApiError(400, f"invalid limit: must be between 1 and {maximum}")
    return int(value)


def timeframe(args) -> Timeframe:
    """The required bar ``timeframe``."""
    value = args.get("timeframe")
    if not value:
        raise ApiError(400, "missing timeframe")
    parsed = parse_timeframe(value)
    if parsed is None:
        raise ApiError(400, f"invalid timeframe: {value}")
    return parsed


def _optional(args, name: str, parse):
    """An optional parameter read by ``parse`` (which returns None for what it cannot read)."""
    value = args.get(name)
    if value is None:
        return None
    parsed = parse(value)
    if parsed is None:
        raise ApiError(400, f"invalid {name}: {value}")
    return parsed


def instant(args, name: str) -> datetime | None:
    """An optional RFC 3339 or YYYY-MM-DD (midnight UTC) parameter."""
    return _optional(args, name, parse_query_time)


def day(args, name: str) -> date | None:
    """An optional YYYY-MM-DD parameter."""
    return _optional(args, name, parse_date)


def number(args, name: str) -> float | None:
    """An optional decimal parameter."""
    value = args.get(name)
    if value is None:
        return None
    try:
        parsed = float(value)
    except ValueError:
        parsed = math.nan
    if not math.isfinite(parsed):
        raise ApiError(400, f"invalid {name}: {value}")
    return parsed
