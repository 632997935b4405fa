"""Bars: timeframes, bucket calendars and deterministic OHLCV values.

Bucket stamping (every stamp is the bucket START, in UTC, whole seconds):

* ``N Min`` / ``N Hour``: buckets of N minutes / hours aligned to New York midnight. A bucket exists on a
  weekday when it overlaps the regular session 09:30-16:00, so 1Hour bars are stamped 09:00, 10:00, ...
  15:00 New York and 4Hour bars 08:00 and 12:00 New York.
* ``1Day``: New York midnight of each weekday (04:00Z in summer, 05:00Z in winter).
* ``1Week``: New York midnight of the Monday that starts the week.
* ``N Month``: New York midnight of the 1st of each month whose distance from January is a multiple of N
  (3Month: Jan, Apr, Jul, Oct).

A bucket exists once its first regular-session minute has begun at or before the sandbox now (so the
bucket in progress is included), never before 2016-01-01. Every weekday is a session: holidays are not
modelled. Values depend only on (symbol, timeframe, bucket start).
"""
import math
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Iterator

from .catalog import Stock
from .det import uniforms
from .times import (
    CLOSE_MINUTE,
    OPEN_MINUTE,
    SESSION_MINUTES,
    is_weekday,
    ny_at,
    ny_date,
    session_close,
    session_open,
    to_ns,
)

HISTORY_START = ny_at(date(2016, 1, 1), 0)

_TIMEFRAME = re.compile(r"(\d{1,4})(Min|T|Hour|H|Day|D|Week|W|Month|M)")
_UNITS = {"Min": "Min", "T": "Min", "Hour": "Hour", "H": "Hour", "Day": "Day", "D": "Day",
          "Week": "Week", "W": "Week", "Month": "Month", "M": "Month"}
_ALLOWED = {
    "Min": range(1, 60),
    "Hour": range(1, 24),
    "Day": (1,),
    "Week": (1,),
    "Month": (1, 2, 3, 6, 12),
}


@dataclass(frozen=True)
class Timeframe:
    """A validated bar size, e.g. amount 5 and unit ``Min``."""

    amount: int
    unit: str

    @property
    def key(self) -> str:
        return f"{self.amount}{self.unit}"


MINUTE = Timeframe(1, "Min")
DAY = Timeframe(1, "Day")


def parse_timeframe(text: str) -> Timeframe | None:
    """``5Min``, ``5T``, ``1Hour``, ``1D``, ``1Week``, ``3Month``... or None when invalid."""
    match = _TIMEFRAME.fullmatch(text)
    if not match:
        return None
    amount, unit = int(match.group(1)), _UNITS[match.group(2)]
    return Timeframe(amount, unit) if amount in _ALLOWED[unit] else None


@dataclass(frozen=True)
class Bucket:
    """One bar interval: its stamp, when its trading starts and ends, and its session minutes."""

    t: datetime
    first_open: datetime
    last_close: datetime
    minutes: int


def _period_start(tf: Timeframe, day: date) -> date:
    # A "period" is the calendar unit whose buckets are listed together: a day, a week or N months.
    if tf.unit == "Week":
        return day - timedelta(days=day.weekday())
    if tf.unit == "Month":
        return date(day.year, (day.month - 1) // tf.amount * tf.amount + 1, 1)
    return day


def _shift(tf: Timeframe, period: date, step: int) -> date:
    if tf.unit == "Week":
        return period + timedelta(days=7 * step)
    if tf.unit == "Month":
        months = period.year * 12 + period.month - 1 + step * tf.amount
        return date(months // 12, months % 12 + 1, 1)
    return period + timedelta(days=step)


@lru_cache(maxsize=8192)
def _buckets(tf: Timeframe, period: date) -> tuple[Bucket, ...]:
    if tf.unit in ("Min", "Hour"):
        if not is_weekday(period):
            return ()
        size = tf.amount * (60 if tf.unit == "Hour" else 1)
        out = []
        for start in range(OPEN_MINUTE // size * size, CLOSE_MINUTE, size):
            lo, hi = max(start, OPEN_MINUTE), min(start + size, CLOSE_MINUTE)
            out.append(Bucket(ny_at(period, start), ny_at(period, lo), ny_at(period, hi), hi - lo))
        return tuple(out)
    end = _shift(tf, period, 1) if tf.unit != "Day" else period + timedelta(days=1)
    days = [period + timedelta(days=i) for i in range((end - period).days)]
    sessions = [day for day in days if is_weekday(day)]
    if not sessions:
        return ()
    return (Bucket(ny_at(period, 0), session_open(sessions[0]), session_close(sessions[-1]),
                   len(sessions) * SESSION_MINUTES),)


def forward(tf: Timeframe, lo: datetime, hi: datetime, now: datetime) -> Iterator[Bucket]:
    """Existing buckets stamped in [lo, hi], oldest first."""
    lo = max(lo, HISTORY_START)
    period = _period_start(tf, ny_date(lo))
    while True:
        for bucket in _buckets(tf, period):
            if bucket.t < lo:
                continue
            if bucket.t > hi or bucket.first_open > now:
                return
            yield bucket
        period = _shift(tf, period, 1)


def backward(tf: Timeframe, lo: datetime, hi: datetime, now: datetime) -> Iterator[Bucket]:
    """Existing buckets stamped in [lo, hi], newest first."""
    lo = max(lo, HISTORY_START)
    period = _period_start(tf, ny_date(min(hi, now)))
    while True:
        for bucket in reversed(_buckets(tf, period)):
            if bucket.t > hi or bucket.first_open > now:
                continue
            if bucket.t < lo:
                return
            yield bucket
        if ny_at(period, 0) < lo:
            return
        period = _shift(tf, period, -1)


def latest(tf: Timeframe, now: datetime, skip: int = 0) -> Bucket | None:
    """The newest existing bucket at ``now`` (``skip`` = 1 for the one before it)."""
    buckets = backward(tf, HISTORY_START, now, now)
    for _ in range(skip):
        next(buckets, None)
    return next(buckets, None)


@lru_cache(maxsize=256)
def _phases(symbol: str) -> list[float]:
    return [2 * math.pi * u for u in uniforms(symbol, "phase")]


def _price_at(stock: Stock, instant: datetime) -> float:
    # A smooth deterministic path within 2.5% of the reference price: charts move, yet the latest bars
    # stay close to the fixed latest quote and trade.
    seconds = to_ns(instant) / 1e9
    p = _phases(stock.symbol)
    wave = (0.015 * math.sin(2 * math.pi * seconds / (97 * 86400) + p[0])
            + 0.008 * math.sin(2 * math.pi * seconds / (13 * 86400) + p[1])
            + 0.002 * math.sin(2 * math.pi * seconds / (3.3 * 3600) + p[2]))
    return stock.price * (1 + wave)


def bar(stock: Stock, tf: Timeframe, bucket: Bucket) -> dict:
    """The bar of ``stock`` for ``bucket``: l <= o, c <= h, vw within [l, h], integer v and n."""
    u = uniforms(stock.symbol, tf.key, bucket.t.isoformat())
    scale = 0.0009 * math.sqrt(bucket.minutes)  # relative price range grows with the square root of time
    o = _price_at(stock, bucket.first_open) * (1 + scale * (u[0] - 0.5) * 0.5)
    c = _price_at(stock, bucket.last_close) * (1 + scale * (u[1] - 0.5) * 0.5)
    h = max(o, c) * (1 + scale * u[2] * 0.6)
    low = min(o, c) * (1 - scale * u[3] * 0.6)
    # Rounding is monotonic, so the ordering survives; vw is placed between the rounded extremes.
    o, h, low, c = (round(x, 2) for x in (o, h, low, c))
    vw = round(low + (h - low) * (0.25 + 0.5 * u[4]), 6)
    volume = max(1, int(stock.daily_volume * bucket.minutes / SESSION_MINUTES * (0.6 + 0.8 * u[5])))
    trades = max(1, int(volume / (60 + 140 * u[6])))
    return {"t": bucket.t.strftime("%Y-%m-%dT%H:%M:%SZ"), "o": o, "h": h, "l": low, "c": c,
            "v": volume, "n": trades, "vw": vw}
