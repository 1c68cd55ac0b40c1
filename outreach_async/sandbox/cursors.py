"""Opaque keyset cursors for ``page[after]`` / ``page[before]``, pure.

Outreach's cursors are base64 of JSON naming the controller, the sort, the sort values and the id
of the record the page ended on: ``{"cn":"ApiV2::MailingsController","sp":"updatedAt",
"sv":["2024-01-11T12:47:26.000Z"],"id":1433033,"v":1}`` (outreach-api-facts.md §3). A cursor is a
position in the order, not an offset, so records added or removed while a client pages never
shift the pages: every record that exists throughout is seen exactly once.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Any

import attrs
import orjson

from .errors import ApiError, bad_parameter
from .query import Record
from .sorting import SortKey, sort_values

__all__ = [
    "Cursor",
    "compare_to_cursor",
    "controller_name",
    "decode_cursor",
    "encode_cursor",
    "index_after",
    "index_before",
    "sort_parameter",
]

CURSOR_VERSION = 1


@attrs.frozen
class Cursor:
    """A position in one collection's order: the sort, its values and the record id."""

    controller: str
    sort: str
    values: tuple[Any, ...]
    id: int


def controller_name(path: str) -> str:
    """``ApiV2::ProspectsController`` for ``prospects``: the ``cn`` Outreach puts in cursors."""
    return f"ApiV2::{path[:1].upper()}{path[1:]}Controller"


def sort_parameter(keys: Sequence[SortKey]) -> str:
    """The ``sp`` of a cursor: the sort as the request spelt it (``id`` when none)."""
    return ",".join(("-" if k.descending else "") + k.wire for k in keys) or "id"


def encode_cursor(record: Record, keys: Sequence[SortKey], controller: str) -> str:
    """The cursor pointing at ``record`` in the order ``keys`` give."""
    payload = {
        "cn": controller,
        "sp": sort_parameter(keys),
        "sv": sort_values(record, keys),
        "id": record["id"],
        "v": CURSOR_VERSION,
    }
    return base64.b64encode(orjson.dumps(payload)).decode("ascii")


def _invalid(parameter: str) -> ApiError:
    return bad_parameter(
        "pageParameter.invalidCursor",
        parameter,
        f"The cursor in {parameter} is not valid for this request; follow the links of a response.",
    )


def decode_cursor(
    text: str, keys: Sequence[SortKey], controller: str, parameter: str = "page[after]"
) -> Cursor:
    """Read a cursor back; 400 if it is malformed or was minted for another order or collection."""
    # A "+" that reached us unencoded arrives as a space.
    padded = text.replace(" ", "+")
    padded += "=" * (-len(padded) % 4)
    try:
        raw = orjson.loads(base64.b64decode(padded.replace("-", "+").replace("_", "/")))
    except (binascii.Error, ValueError):
        raise _invalid(parameter) from None
    if not isinstance(raw, dict):
        raise _invalid(parameter)
    values, id_ = raw.get("sv"), raw.get("id")
    expected = (controller, sort_parameter(keys), CURSOR_VERSION)
    if (raw.get("cn"), raw.get("sp"), raw.get("v")) != expected:
        raise _invalid(parameter)
    if not isinstance(values, list) or len(values) != len(keys) or type(id_) is not int:
        raise _invalid(parameter)
    return Cursor(controller, expected[1], tuple(values), id_)


def _compare(a: Any, b: Any) -> int:
    # Nulls sort last ascending, like order_records' key (value is None, value).
    if a is None or b is None:
        return (a is None) - (b is None)
    try:
        return int(a > b) - int(a < b)
    except TypeError:
        ta, tb = type(a).__name__, type(b).__name__
        return (ta > tb) - (ta < tb)


def compare_to_cursor(record: Record, keys: Sequence[SortKey], cursor: Cursor) -> int:
    """-1, 0 or 1 as ``record`` comes before, at or after ``cursor`` in the order."""
    for key, value, position in zip(keys, sort_values(record, keys), cursor.values, strict=True):
        result = _compare(value, position)
        if result:
            return -result if key.descending else result
    record_id: int = record["id"]
    return (record_id > cursor.id) - (record_id < cursor.id)


def _first_index(rows: Sequence[Record], keys: Sequence[SortKey], cursor: Cursor, past: int) -> int:
    # Binary search for the first row whose comparison to the cursor reaches ``past``.
    lo, hi = 0, len(rows)
    while lo < hi:
        mid = (lo + hi) // 2
        if compare_to_cursor(rows[mid], keys, cursor) >= past:
            hi = mid
        else:
            lo = mid + 1
    return lo


def index_after(rows: Sequence[Record], keys: Sequence[SortKey], cursor: Cursor) -> int:
    """Index of the first row strictly after ``cursor`` in ``rows`` (ordered by ``keys``)."""
    return _first_index(rows, keys, cursor, 1)


def index_before(rows: Sequence[Record], keys: Sequence[SortKey], cursor: Cursor) -> int:
    """Index of the first row at or after ``cursor``: the rows before it precede the cursor."""
    return _first_index(rows, keys, cursor, 0)
