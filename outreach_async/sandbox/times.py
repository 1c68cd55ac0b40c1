"""Timestamps as the sandbox keeps them: the API's millisecond UTC strings.

Outreach renders datetimes as ``2024-07-26T06:27:17.000Z`` (outreach-api-facts.md §6, §10). The
sandbox stores every datetime attribute in exactly that form, so that comparing and sorting them
is plain string comparison, and accepts every form clients send in filters and bodies (§4 "Date
values accepted": ``YYYY-MM-DD``, seconds with ``Z``, milliseconds, microseconds, offsets, and
naive values taken as UTC).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

__all__ = [
    "MonotonicClock",
    "format_epoch_ms",
    "normalize_date",
    "normalize_datetime",
]

_UTC = dt.UTC


def format_epoch_ms(epoch_ms: int) -> str:
    """``2024-07-26T06:27:17.123Z`` for a count of milliseconds since the epoch."""
    seconds, millis = divmod(epoch_ms, 1000)
    stamp = time.gmtime(seconds)
    return time.strftime("%Y-%m-%dT%H:%M:%S", stamp) + f".{millis:03d}Z"


def normalize_datetime(value: str) -> str:
    """Any ISO 8601 form the API accepts, as the stored millisecond ``Z`` string.

    Raises ValueError for anything else. Sub-millisecond digits are cut, not rounded: a bound of
    ``…00.000900Z`` compares like ``…00.000Z`` (the API keeps milliseconds only, §10).
    """
    text = value.strip()
    if len(text) == 10:
        parsed = dt.datetime.combine(dt.date.fromisoformat(text), dt.time(), _UTC)
    else:
        parsed = dt.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=_UTC)
    parsed = parsed.astimezone(_UTC)
    return parsed.strftime("%Y-%m-%dT%H:%M:%S") + f".{parsed.microsecond // 1000:03d}Z"


def normalize_date(value: str) -> str:
    """``YYYY-MM-DD`` for a date attribute (a full timestamp is cut to its UTC date)."""
    text = value.strip()
    if len(text) == 10:
        return dt.date.fromisoformat(text).isoformat()
    return normalize_datetime(text)[:10]


class MonotonicClock:
    """The store's clock: wall time in whole milliseconds that never repeats or goes back.

    Two writes in the same millisecond still get distinct, increasing ``updatedAt`` values, so
    "updatedAt bumps on every change" holds even for fast tests, and incremental syncs that
    filter on ``updatedAt`` never miss a change. ``time_source`` is injectable (seconds).
    """

    def __init__(self, time_source: Callable[[], float] = time.time) -> None:
        self._time_source = time_source
        self._last_ms = 0

    def now_ms(self) -> int:
        """The next timestamp, in milliseconds since the epoch."""
        current = int(self._time_source() * 1000)
        self._last_ms = max(current, self._last_ms + 1)
        return self._last_ms

    def now(self) -> str:
        """The next timestamp as the API's string."""
        return format_epoch_ms(self.now_ms())
