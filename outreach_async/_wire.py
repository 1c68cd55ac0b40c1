"""Leaf helpers for the API's wire forms: datetimes and camelCase/snake_case names.

The codec (reading and writing models), the query builder (filter values, action parameters) and
the export (records) all need the same few rules, so they live here, below all of them: this
module imports nothing of the package but the error tree. Facts: ``outreach-api-facts.md`` §10
(millisecond UTC datetimes); peer-lessons §4 (Outreach rejects microseconds).
"""

from __future__ import annotations

import datetime as _dt
import re
from typing import Any

from ._exceptions import QueryError

__all__ = [
    "camel_to_snake",
    "format_datetime",
    "lenient_date",
    "lenient_datetime",
    "parse_date",
    "parse_datetime",
    "snake_to_camel",
]

_UTC = _dt.UTC
_fromisoformat = _dt.datetime.fromisoformat


# --- datetimes ---------------------------------------------------------------------------------


def format_datetime(value: _dt.datetime | _dt.date) -> str:
    """The API's datetime form: ``YYYY-MM-DDTHH:MM:SS.sssZ`` in UTC; a date as ``YYYY-MM-DD``.

    Naive datetimes are taken as UTC, aware ones converted; sub-millisecond digits are dropped
    (Outreach rejects microseconds, see peer-lessons §4).
    """
    if not isinstance(value, _dt.datetime):
        return value.isoformat()
    if value.utcoffset() is None:
        value = value.replace(tzinfo=_dt.UTC)
    try:
        utc = value.astimezone(_dt.UTC)
    except OverflowError:
        raise QueryError(f"{value!r} is out of range once converted to UTC") from None
    return utc.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def parse_datetime(value: str) -> _dt.datetime:
    """An ISO 8601 timestamp as an aware datetime (a value without offset is taken as UTC)."""
    parsed = _fromisoformat(value)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=_UTC)


def parse_date(value: str) -> _dt.date:
    """``YYYY-MM-DD`` (a full timestamp is cut to its date)."""
    return _dt.date.fromisoformat(value[:10])


def lenient_datetime(value: Any) -> Any:
    # Only strings are parsed; a malformed one is kept as it came rather than losing the record.
    # (parse_datetime inlined: every read of a datetime field runs this.)
    if value.__class__ is not str:
        return value
    try:
        parsed = _fromisoformat(value)
    except ValueError:
        return value
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=_UTC)


def lenient_date(value: Any) -> Any:
    if value.__class__ is not str:
        return value
    try:
        return parse_date(value)
    except ValueError:
        return value


# --- names -------------------------------------------------------------------------------------


def snake_to_camel(name: str) -> str:
    """``completion_note`` -> ``completionNote`` (a camelCase name is returned unchanged)."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


_WORD_START = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def camel_to_snake(name: str) -> str:
    """``sequenceStates`` -> ``sequence_states`` (a snake_case name is returned unchanged)."""
    return _WORD_START.sub("_", name).lower()
