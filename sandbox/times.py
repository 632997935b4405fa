"""Time helpers: RFC 3339 text, nanosecond stamps and the New York regular-session calendar."""
import re
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

NY = ZoneInfo("America/New_York")
UTC = timezone.utc
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
OPEN_MINUTE = 9 * 60 + 30  # regular session, minutes after New York midnight
CLOSE_MINUTE = 16 * 60
SESSION_MINUTES = CLOSE_MINUTE - OPEN_MINUTE

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})"
)
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


def to_ns(dt: datetime) -> int:
    """Nanoseconds since the Unix epoch (exact, unlike float timestamps)."""
    delta = dt - EPOCH
    return (delta.days * 86400 + delta.seconds) * 10**9 + delta.microseconds * 1000


def _fraction(nanos: int) -> str:
    # Go's RFC3339Nano: trailing zeros of the fraction are cut, no fraction at all when zero.
    return "." + f"{nanos:09d}".rstrip("0") if nanos else ""


def rfc3339_ns(ns: int) -> str:
    """Market-data stamp: UTC with a ``Z`` and 0-9 fractional digits."""
    seconds, nanos = divmod(ns, 10**9)
    whole = EPOCH + timedelta(seconds=seconds)
    return whole.strftime("%Y-%m-%dT%H:%M:%S") + _fraction(nanos) + "Z"


def rfc3339(dt: datetime) -> str:
    """``rfc3339_ns`` for a datetime."""
    return rfc3339_ns(to_ns(dt))


def rfc3339_ny(dt: datetime) -> str:
    """Trading-clock stamp: New York wall time with its offset, e.g. ``2024-06-03T15:00:00.123-04:00``."""
    local = dt.astimezone(NY)
    minutes = int(local.utcoffset().total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, mins = divmod(abs(minutes), 60)
    return (
        local.strftime("%Y-%m-%dT%H:%M:%S")
        + _fraction(local.microsecond * 1000)
        + f"{sign}{hours:02d}:{mins:02d}"
    )


def parse_rfc3339(text: str) -> datetime | None:
    """An aware UTC datetime (fraction truncated to microseconds), or None when not RFC 3339."""
    match = _RFC3339.fullmatch(text)
    if not match:
        return None
    year, month, day, hour, minute, second, frac, zone = match.groups()
    if zone in ("Z", "z"):
        tzinfo = UTC
    else:
        sign = -1 if zone[0] == "-" else 1
        tzinfo = timezone(sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
    micro = int((frac or "0").ljust(6, "0")[:6])
    try:
        stamp = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tzinfo)
    except ValueError:
        return None
    return stamp.astimezone(UTC)


def parse_date(text: str) -> date | None:
    """A ``YYYY-MM-DD`` date, or None."""
    match = _DATE.fullmatch(text)
    if not match:
        return None
    try:
        return date(*map(int, match.groups()))
    except ValueError:
        return None


def parse_query_time(text: str) -> datetime | None:
    """A ``start``/``end``-style value: RFC 3339, or ``YYYY-MM-DD`` meaning midnight UTC."""
    stamp = parse_rfc3339(text)
    if stamp is not None:
        return stamp
    day = parse_date(text)
    return datetime(day.year, day.month, day.day, tzinfo=UTC) if day else None


def parse_now(text: str) -> datetime:
    """The sandbox clock from ISO 8601 text (naive means UTC); raises ValueError when unparseable."""
    stamp = parse_rfc3339(text)
    if stamp is None:
        stamp = datetime.fromisoformat(text)
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=UTC)
    return stamp.astimezone(UTC)


def ny_date(dt: datetime) -> date:
    """The New York calendar date of an instant."""
    return dt.astimezone(NY).date()


def ny_at(day: date, minute: int) -> datetime:
    """The UTC instant ``minute`` minutes after New York midnight of ``day`` (minute < 1440)."""
    return datetime(day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=NY).astimezone(UTC)


def is_weekday(day: date) -> bool:
    """Every weekday is a session; exchange holidays are not modelled."""
    return day.weekday() < 5


def session_open(day: date) -> datetime:
    """09:30 New York on ``day``, in UTC."""
    return ny_at(day, OPEN_MINUTE)


def session_close(day: date) -> datetime:
    """16:00 New York on ``day``, in UTC."""
    return ny_at(day, CLOSE_MINUTE)


def next_open_after(instant: datetime) -> datetime:
    """The first weekday 09:30 New York strictly after ``instant``."""
    day = ny_date(instant)
    while not (is_weekday(day) and session_open(day) > instant):
        day += timedelta(days=1)
    return session_open(day)
