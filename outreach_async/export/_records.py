"""Records as export lines: a model flattened to one JSON object, or one CSV row. Pure.

The flat record (the JSON Lines format, stable):

    {"type": "prospect", "id": 18, "firstName": "Sally", ..., "account": 3, "tags": [...],
     "sequenceStates": [4, 5]}

- ``type`` and ``id`` first, then the attributes the API carried, by wire (camelCase) name, then
  the relationships: a to-one as the target id (``null`` when unset), a to-many as the list of
  ids when the API carried them (a links-only to-many is left out). Attributes and
  relationships this library does not know yet are kept, relationships as ids too.
- Timestamps are written as the API writes them: millisecond UTC, ``2024-07-26T06:27:17.000Z``.

CSV rows have a fixed header from the resource's spec (``id``, the attributes in spec order,
then the relationships, or the ``fields`` asked for): an empty cell is null or absent, lists and
objects are JSON in the cell, booleans are ``true``/``false``. Unknown attributes are not in CSV.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import operator
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal

import orjson

from outreach_async import UNSET, Resource, ToMany, ToOne

if TYPE_CHECKING:
    from outreach_async._schema import ResourceSpec

__all__ = ["Format", "RecordEncoder", "csv_columns", "format_time"]

Format = Literal["jsonl", "csv"]

_UTC = dt.UTC


def format_time(value: dt.datetime) -> str:
    """A datetime in the API's form: millisecond UTC with ``Z`` (naive means UTC)."""
    utc = value.astimezone(_UTC) if value.tzinfo is not None else value
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}Z"


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return format_time(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _relationship_value(handle: Any) -> tuple[bool, Any]:
    """(known, value) of a relationship handle: an id, a list of ids, or nothing known."""
    if isinstance(handle, ToMany):
        return (handle.ids is not None, handle.ids)
    if isinstance(handle, ToOne):
        return (handle.id is not None or handle.is_null, handle.id)
    return (False, None)


def _getter(names: list[str]) -> Callable[[Any], tuple[Any, ...]]:
    """A function returning the named attributes of an object as a tuple (of any length)."""
    if not names:
        return lambda _obj: ()
    if len(names) == 1:
        one = operator.attrgetter(names[0])
        return lambda obj: (one(obj),)
    return operator.attrgetter(*names)


def csv_columns(spec: ResourceSpec, fields: Sequence[str] | None = None) -> list[str]:
    """The CSV header: ``id`` then attributes, then relationships (wire names, spec order)."""
    wanted = None if fields is None else set(fields)
    attributes = [a.wire for a in spec.attributes if wanted is None or a.wire in wanted]
    relationships = [r.wire for r in spec.relationships if wanted is None or r.wire in wanted]
    return ["id", *attributes, *relationships]


class RecordEncoder:
    """Turns models of one resource type into JSON Lines or CSV bytes."""

    def __init__(
        self, spec: ResourceSpec, fields: Sequence[str] | None = None, fmt: Format = "jsonl"
    ) -> None:
        wanted = None if fields is None else set(fields)
        self.type = spec.type
        self.format: Format = fmt
        attributes = [a for a in spec.attributes if wanted is None or a.wire in wanted]
        relationships = [r for r in spec.relationships if wanted is None or r.wire in wanted]
        # One attrgetter call per record reads every field in C; the loop then only skips the
        # UNSET ones and formats times. (The hot path of every export: keep it lean.)
        self._get_attributes = _getter([a.name for a in attributes])
        self._attributes = [(a.wire, a.kind in ("datetime", "date")) for a in attributes]
        self._get_relationships = _getter([r.name for r in relationships])
        self._relationships = [r.wire for r in relationships]
        self._keep_extra = wanted is None
        self.columns = csv_columns(spec, fields)

    def flatten(self, model: Resource) -> dict[str, Any]:
        """The flat record of one model (see the module docstring)."""
        out: dict[str, Any] = {"type": self.type, "id": model.id}
        unset = UNSET
        for (wire, is_time), value in zip(
            self._attributes, self._get_attributes(model), strict=True
        ):
            if value is unset:
                continue
            out[wire] = _plain(value) if is_time and value is not None else value
        for wire, handle in zip(self._relationships, self._get_relationships(model), strict=True):
            known, ids = _relationship_value(handle)
            if known:
                out[wire] = ids
        if self._keep_extra and model.extra:
            self._add_extra(model.extra, out)
        return out

    @staticmethod
    def _add_extra(extra: dict[str, Any], out: dict[str, Any]) -> None:
        for wire, value in extra.items():
            if isinstance(value, (ToOne, ToMany)):
                known, ids = _relationship_value(value)
                if known:
                    out.setdefault(wire, ids)
            else:
                out.setdefault(wire, value)

    def header(self) -> bytes:
        """What a new output file starts with (the CSV header; nothing for JSON Lines)."""
        if self.format != "csv":
            return b""
        return _csv_bytes([self.columns])

    def encode(self, models: Sequence[Resource]) -> bytes:
        """The lines of these models, each ending in a newline."""
        if self.format == "csv":
            return _csv_bytes([self.csv_row(self.flatten(m)) for m in models])
        dumps = orjson.dumps
        return b"".join([dumps(self.flatten(m), option=orjson.OPT_APPEND_NEWLINE) for m in models])

    def csv_row(self, record: dict[str, Any]) -> list[str]:
        """The cells of one flat record, in :attr:`columns` order."""
        return [_cell(record.get(column)) for column in self.columns]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (list, dict)):
        return orjson.dumps(value, default=_plain).decode()
    return str(_plain(value))


def _csv_bytes(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue().encode()
